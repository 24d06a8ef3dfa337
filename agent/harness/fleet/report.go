package fleet

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/job"
)

// TargetRatio is the goal for wall time over the rate limit's lower bound.
const TargetRatio = 1.5

// Report is one simulation's figures.
type Report struct {
	Agents        int            `json:"agents"`
	DataDisks     int            `json:"data_disks_per_instance"`
	RPS           float64        `json:"rps"`
	JitterMS      int64          `json:"start_jitter_ms"`
	Wait          bool           `json:"wait"`
	SnapshotMS    int64          `json:"snapshot_ms"`
	Seed          int64          `json:"seed"`
	ExtraFaults   string         `json:"extra_faults,omitempty"`
	Succeeded     int            `json:"jobs_succeeded"`
	Failed        int            `json:"jobs_failed"`
	Outcomes      map[string]int `json:"outcomes"`
	FailedByClass map[string]int `json:"failed_by_class,omitempty"`
	// FirstFailures are up to maxListed failed jobs, one line each.
	FirstFailures []string `json:"first_failures,omitempty"`
	Findings      Findings `json:"findings"`
	Snapshots     int      `json:"snapshots"`
	Groups        int      `json:"groups"`
	WantSnapshots int      `json:"snapshots_expected"`

	// WallMS runs from the launch of the fleet to the end of its last job.
	WallMS int64 `json:"wall_ms"`
	// Admitted are the calls the rate limit let through (every answered
	// call but the throttled ones); LowerBoundMS is the least time the
	// account's limit allows for them: (Admitted - burst) / RPS, the token
	// bucket starting full with max(1, RPS) tokens.
	Admitted     int            `json:"calls_admitted"`
	LowerBoundMS int64          `json:"lower_bound_ms"`
	Ratio        float64        `json:"wall_over_bound"`
	ByAction     map[string]int `json:"admitted_by_action"`
	Answered     int            `json:"calls_answered"`
	Throttled    int            `json:"calls_throttled"`
	// Sent counts the agents' HTTP attempts (pkg/cloud's counter); it
	// equals Answered unless connections failed before an answer.
	Sent    int64 `json:"calls_sent"`
	Retries int64 `json:"retries"`
	// CallsPerAgent and JobMS are distributions over the agents.
	CallsPerAgent Spread `json:"calls_per_agent"`
	JobMS         Spread `json:"job_ms"`
	PeakRSSBytes  int64  `json:"peak_rss_bytes"`
	HeapBytes     uint64 `json:"heap_bytes"`
}

// Spread summarises a distribution.
type Spread struct {
	Min    int64 `json:"min"`
	Median int64 `json:"median"`
	P95    int64 `json:"p95"`
	Max    int64 `json:"max"`
}

func spread(v []int64) Spread {
	if len(v) == 0 {
		return Spread{}
	}
	slices.Sort(v)
	at := func(q float64) int64 { return v[min(len(v)-1, int(q*float64(len(v))))] }
	return Spread{Min: v[0], Median: at(0.5), P95: at(0.95), Max: v[len(v)-1]}
}

// OK reports whether every job succeeded and the state shows no duplicate,
// missing, untagged or failed snapshot.
func (r *Report) OK() bool {
	return r.Failed == 0 && r.Succeeded == r.Agents && r.Findings.OK()
}

// maxListed bounds the failures and findings printed.
const maxListed = 10

func buildReport(cfg Config, results []agentResult, st ecsemu.StateDump, calls []ecsemu.Call, wall time.Duration) *Report {
	r := &Report{
		Agents: cfg.Agents, DataDisks: cfg.DataDisks, RPS: cfg.RPS, JitterMS: cfg.Jitter.Milliseconds(),
		Wait: cfg.Wait, SnapshotMS: cfg.SnapshotTime.Milliseconds(), Seed: cfg.Seed,
		Outcomes: map[string]int{}, ByAction: map[string]int{},
		Snapshots: len(st.Snapshots), Groups: len(st.Groups), WantSnapshots: cfg.Agents * (1 + cfg.DataDisks),
		WallMS: wall.Milliseconds(), Answered: len(calls),
	}
	if f := cfg.Faults; f.ThrottleRate+f.ErrorRate+f.DropRate > 0 || f.Latency > 0 {
		r.ExtraFaults = fmt.Sprintf("throttle %.2f, error %.2f, drop %.2f, latency %s", f.ThrottleRate, f.ErrorRate, f.DropRate, f.Latency)
	}
	var perAgent, jobMS []int64
	for _, a := range results {
		if a.res == nil {
			r.Failed++
			r.Outcomes["not run"]++
			r.failure(fmt.Sprintf("%s: %v", a.instance, a.err), job.Classify(a.err))
			continue
		}
		r.Outcomes[a.res.Outcome]++
		r.Sent += a.res.APICalls
		r.Retries += a.res.Retries
		perAgent = append(perAgent, a.res.APICalls)
		jobMS = append(jobMS, a.end.Sub(a.start).Milliseconds())
		if a.err != nil {
			r.Failed++
			r.failure(fmt.Sprintf("%s: job %s %s: %v", a.instance, a.res.JobID, a.res.Outcome, a.err), job.Classify(a.err))
			continue
		}
		r.Succeeded++
	}
	for _, c := range calls {
		if c.Fault == ecsemu.FaultThrottle {
			r.Throttled++
			continue
		}
		r.Admitted++
		r.ByAction[c.Action]++
	}
	burst := max(1, cfg.RPS) // the emulator's bucket starts full
	r.LowerBoundMS = int64(max(0, float64(r.Admitted)-burst) / cfg.RPS * 1000)
	if r.LowerBoundMS > 0 {
		r.Ratio = float64(r.WallMS) / float64(r.LowerBoundMS)
	}
	r.CallsPerAgent, r.JobMS = spread(perAgent), spread(jobMS)
	r.Findings = verify(results, st, calls)
	r.PeakRSSBytes, _ = peakRSS()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HeapBytes = ms.HeapAlloc
	return r
}

func (r *Report) failure(line, class string) {
	if r.FailedByClass == nil {
		r.FailedByClass = map[string]int{}
	}
	r.FailedByClass[cmp.Or(class, "failed")]++
	if len(r.FirstFailures) < maxListed {
		r.FirstFailures = append(r.FirstFailures, line)
	}
}

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as a table, then the problems, then one
// verdict line.
func (r *Report) WriteText(w io.Writer) error {
	mode := "--no-wait (returns once created)"
	if r.Wait {
		mode = fmt.Sprintf("--wait (snapshots take %s)", time.Duration(r.SnapshotMS)*time.Millisecond)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ecssnap fleet simulation: %d instances (1 system + %d data ESSD disks each), one account limited to %g API calls/s,\n",
		r.Agents, r.DataDisks, r.RPS)
	fmt.Fprintf(&b, "starts spread over %s, crash consistency, %s, seed %d\n", time.Duration(r.JitterMS)*time.Millisecond, mode, r.Seed)
	if r.ExtraFaults != "" {
		fmt.Fprintf(&b, "extra faults: %s\n", r.ExtraFaults)
	}
	b.WriteString("\n")
	rows := [][4]string{{"figure", "value", "target", "verdict"}}
	add := func(name, value, target, verdict string) {
		rows = append(rows, [4]string{name, value, target, verdict})
	}
	add("jobs succeeded", fmt.Sprintf("%d / %d", r.Succeeded, r.Agents), "all", verdict(r.Succeeded == r.Agents))
	add("duplicate snapshots", fmt.Sprint(len(r.Findings.Duplicates)), "0", verdict(len(r.Findings.Duplicates) == 0))
	add("missing or untagged", fmt.Sprint(len(r.Findings.Missing)+len(r.Findings.Untagged)), "0", verdict(len(r.Findings.Missing)+len(r.Findings.Untagged) == 0))
	add("snapshots / groups", fmt.Sprintf("%d / %d", r.Snapshots, r.Groups), fmt.Sprintf("%d / %d", r.WantSnapshots, r.Agents), verdict(r.Snapshots == r.WantSnapshots && r.Groups == r.Agents))
	add("total time", seconds(r.WallMS), fmt.Sprintf("<= %.1f x bound", TargetRatio), "")
	add("lower bound (calls / rate)", seconds(r.LowerBoundMS), "", "")
	add("time over bound", fmt.Sprintf("%.2f x", r.Ratio), fmt.Sprintf("<= %.1f", TargetRatio), verdict(r.Ratio <= TargetRatio))
	add("calls admitted", fmt.Sprintf("%d (%.1f per job)", r.Admitted, float64(r.Admitted)/float64(max(r.Agents, 1))), "", "")
	add("calls throttled", fmt.Sprintf("%d (%.1f per job)", r.Throttled, float64(r.Throttled)/float64(max(r.Agents, 1))), "", "")
	add("retries (cloud client)", fmt.Sprint(r.Retries), "", "")
	add("calls sent per agent", r.CallsPerAgent.String(""), "", "")
	add("job time", r.JobMS.String("ms"), "", "")
	add("peak RSS", mib(r.PeakRSSBytes), "", "")
	widths := [4]int{}
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, row := range rows {
		line := fmt.Sprintf("%-*s  %-*s  %-*s  %s", widths[0], row[0], widths[1], row[1], widths[2], row[2], row[3])
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	fmt.Fprintf(&b, "\nadmitted calls by action: %s\n", byAction(r.ByAction))
	if r.Sent != int64(r.Answered) {
		fmt.Fprintf(&b, "calls sent %d, answered %d: %d got no answer\n", r.Sent, r.Answered, r.Sent-int64(r.Answered))
	}
	if len(r.FailedByClass) > 0 {
		fmt.Fprintf(&b, "failed jobs by class: %s\n", byAction(r.FailedByClass))
	}
	list := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s (%d):\n", title, len(lines))
		for _, l := range lines[:min(len(lines), maxListed)] {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	list("failed jobs", r.FirstFailures)
	list("duplicates", r.Findings.Duplicates)
	list("missing", r.Findings.Missing)
	list("untagged", r.Findings.Untagged)
	list("failed snapshots", r.Findings.Failed)
	if r.OK() {
		fmt.Fprintf(&b, "\nPASS: %d jobs succeeded, no duplicate snapshot\n", r.Succeeded)
	} else {
		fmt.Fprintf(&b, "\nFAIL: %d of %d jobs failed; %d duplicates, %d missing, %d untagged, %d failed snapshots\n",
			r.Agents-r.Succeeded, r.Agents, len(r.Findings.Duplicates), len(r.Findings.Missing), len(r.Findings.Untagged), len(r.Findings.Failed))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (s Spread) String(unit string) string {
	return fmt.Sprintf("min %d%s, median %d%s, p95 %d%s, max %d%s", s.Min, unit, s.Median, unit, s.P95, unit, s.Max, unit)
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

func seconds(ms int64) string { return fmt.Sprintf("%.1f s", float64(ms)/1000) }

func mib(b int64) string {
	if b <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func byAction(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
