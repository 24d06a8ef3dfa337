package ecsemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
)

// Faults are failures injected into the emulated services. The zero value
// injects nothing. Rates are fractions of calls in [0, 1], drawn per call
// from the emulator seed and the call's parameters (see Options.Seed).
type Faults struct {
	// Latency delays every matching API call by Latency plus a uniform
	// random extra of up to LatencyJitter (wall-clock time).
	Latency       time.Duration `yaml:"latency,omitempty" json:"latency,omitempty"`
	LatencyJitter time.Duration `yaml:"latency_jitter,omitempty" json:"latency_jitter,omitempty"`
	// ThrottleRate answers that fraction of calls with throttling
	// (Throttling.User, 400; Throttling, 403, on CreateSnapshot). Not committed.
	ThrottleRate float64 `yaml:"throttle_rate,omitempty" json:"throttle_rate,omitempty"`
	// RPS is an account-level token bucket over every API call (burst
	// max(1, RPS)); calls beyond it are throttled. Zero means unlimited.
	RPS float64 `yaml:"rps,omitempty" json:"rps,omitempty"`
	// ErrorRate answers that fraction of calls with 500 InternalError or
	// 503 ServiceUnavailable. Not committed.
	ErrorRate float64 `yaml:"error_rate,omitempty" json:"error_rate,omitempty"`
	// DropRate: the call takes effect (is committed), then the connection is
	// closed before any response byte is written.
	DropRate float64 `yaml:"drop_rate,omitempty" json:"drop_rate,omitempty"`
	// Actions limits latency, throttle, error, drop and bad-answer faults to these API
	// actions; empty means all.
	Actions []string `yaml:"actions,omitempty" json:"actions,omitempty"`
	// IMDSOutage makes the metadata service refuse connections (its
	// listener is closed until the outage ends; handlers abort requests).
	IMDSOutage bool `yaml:"imds_outage,omitempty" json:"imds_outage,omitempty"`
	// IMDSLatency delays every metadata response.
	IMDSLatency time.Duration `yaml:"imds_latency,omitempty" json:"imds_latency,omitempty"`
	// BadAnswer replaces the success answer of BadAnswerRate of the
	// matching calls, after they took effect: BadAnswerTruncated,
	// BadAnswerEmpty or BadAnswerHuge (of BadAnswerBytes). See
	// faults_answers.go.
	BadAnswer      string  `yaml:"bad_answer,omitempty" json:"bad_answer,omitempty"`
	BadAnswerRate  float64 `yaml:"bad_answer_rate,omitempty" json:"bad_answer_rate,omitempty"`
	BadAnswerBytes int64   `yaml:"bad_answer_bytes,omitempty" json:"bad_answer_bytes,omitempty"`
}

// Fault labels recorded in Call.Fault.
const (
	FaultThrottle = "throttle"
	FaultError    = "error"
	FaultDrop     = "drop"
)

// faultsJSON is Faults with durations as strings ("250ms").
type faultsJSON struct {
	Latency        Duration `json:"latency,omitempty"`
	LatencyJitter  Duration `json:"latency_jitter,omitempty"`
	ThrottleRate   float64  `json:"throttle_rate,omitempty"`
	RPS            float64  `json:"rps,omitempty"`
	ErrorRate      float64  `json:"error_rate,omitempty"`
	DropRate       float64  `json:"drop_rate,omitempty"`
	Actions        []string `json:"actions,omitempty"`
	IMDSOutage     bool     `json:"imds_outage,omitempty"`
	IMDSLatency    Duration `json:"imds_latency,omitempty"`
	BadAnswer      string   `json:"bad_answer,omitempty"`
	BadAnswerRate  float64  `json:"bad_answer_rate,omitempty"`
	BadAnswerBytes int64    `json:"bad_answer_bytes,omitempty"`
}

// MarshalJSON writes durations as strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{
		Latency: Duration(f.Latency), LatencyJitter: Duration(f.LatencyJitter),
		ThrottleRate: f.ThrottleRate, RPS: f.RPS, ErrorRate: f.ErrorRate, DropRate: f.DropRate,
		Actions: f.Actions, IMDSOutage: f.IMDSOutage, IMDSLatency: Duration(f.IMDSLatency),
		BadAnswer: f.BadAnswer, BadAnswerRate: f.BadAnswerRate, BadAnswerBytes: f.BadAnswerBytes,
	})
}

// UnmarshalJSON reads durations as strings and rejects unknown keys.
func (f *Faults) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var j faultsJSON
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("faults: %w", err)
	}
	*f = Faults{
		Latency: j.Latency.D(), LatencyJitter: j.LatencyJitter.D(),
		ThrottleRate: j.ThrottleRate, RPS: j.RPS, ErrorRate: j.ErrorRate, DropRate: j.DropRate,
		Actions: j.Actions, IMDSOutage: j.IMDSOutage, IMDSLatency: j.IMDSLatency.D(),
		BadAnswer: j.BadAnswer, BadAnswerRate: j.BadAnswerRate, BadAnswerBytes: j.BadAnswerBytes,
	}
	return nil
}

// Validate checks ranges and action names.
func (f Faults) Validate() error {
	for name, r := range map[string]float64{"throttle_rate": f.ThrottleRate, "error_rate": f.ErrorRate, "drop_rate": f.DropRate} {
		if r < 0 || r > 1 || math.IsNaN(r) {
			return fmt.Errorf("%s %v is not in [0, 1]", name, r)
		}
	}
	if f.RPS < 0 || math.IsNaN(f.RPS) || math.IsInf(f.RPS, 0) {
		return fmt.Errorf("rps %v must be a positive number", f.RPS)
	}
	if f.Latency < 0 || f.LatencyJitter < 0 || f.IMDSLatency < 0 {
		return fmt.Errorf("latencies must not be negative")
	}
	if err := f.validateBadAnswer(); err != nil {
		return err
	}
	for _, a := range f.Actions {
		if _, ok := actions[a]; !ok {
			return fmt.Errorf("unknown action %q", a)
		}
	}
	return nil
}

// appliesTo reports whether action-scoped faults hit action.
func (f Faults) appliesTo(action string) bool {
	return len(f.Actions) == 0 || slices.Contains(f.Actions, action)
}

// tokenBucket is the account-level request rate limit. It runs on wall
// time: a rate limit is about how fast requests arrive, not cloud time.
type tokenBucket struct {
	rate   float64
	tokens float64
	last   time.Time
}

func (b *tokenBucket) reset(rate float64) {
	*b = tokenBucket{rate: rate, tokens: b.burst(rate)}
}

func (b *tokenBucket) burst(rate float64) float64 { return max(1, rate) }

// allow takes a token if one is available.
func (b *tokenBucket) allow(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	if !b.last.IsZero() {
		b.tokens = min(b.burst(b.rate), b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
