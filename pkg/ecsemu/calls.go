package ecsemu

import (
	"maps"
	"time"
)

// Call is one API request as the emulator saw and answered it.
type Call struct {
	// Time is cloud time (the emulator clock) when the call arrived.
	Time      time.Time         `json:"time"`
	RequestID string            `json:"request_id"`
	Method    string            `json:"method"`
	Action    string            `json:"action"`
	Params    map[string]string `json:"params"`
	// Signature is how the request was signed: "v1" (HMAC-SHA1 parameters)
	// or "v3" (ACS3-HMAC-SHA256 Authorization header). With V3, Params
	// holds the query and body parameters; the action came in x-acs-action.
	Signature string `json:"signature"`
	// AccessKeyID is the key the request was signed with (as claimed; an
	// STS key starts with "STS.").
	AccessKeyID string `json:"access_key_id,omitempty"`
	// Status and Code are what was (or, for a drop, would have been)
	// answered; Code is empty on success.
	Status int    `json:"status"`
	Code   string `json:"code,omitempty"`
	// Committed: the action ran and succeeded, so its effect is in the state
	// (a dropped call can be committed; a throttled or failed one is not).
	Committed bool `json:"committed"`
	// Replayed: answered from an earlier call with the same ClientToken.
	Replayed bool `json:"replayed,omitempty"`
	// Fault is the injected fault: "throttle", "error", "drop", a bad
	// answer ("truncated", "empty", "huge") or "".
	Fault string `json:"fault,omitempty"`
}

// Call.Signature values.
const (
	signatureV1 = "v1"
	signatureV3 = "v3"
)

// maxCalls bounds the call log of a long-running emulator; the oldest
// calls are forgotten first.
const maxCalls = 100_000

// recordCall appends to the call log. Callers hold e.mu.
func (e *Emulator) recordCall(c Call) {
	if len(e.calls) >= maxCalls {
		e.calls = append(e.calls[:0], e.calls[len(e.calls)-maxCalls+1:]...)
	}
	e.calls = append(e.calls, c)
}

// Calls returns every API call received since start (or ResetCalls), in
// order of completion (the most recent 100,000).
func (e *Emulator) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Call, len(e.calls))
	for i, c := range e.calls {
		c.Params = maps.Clone(c.Params)
		out[i] = c
	}
	return out
}

// ResetCalls forgets the recorded calls.
func (e *Emulator) ResetCalls() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = nil
}
