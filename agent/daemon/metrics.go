package daemon

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"sync"

	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/replacefile"
)

// metrics counts what the daemon did, for /metrics and the node_exporter
// textfile.
type metrics struct {
	mu          sync.Mutex
	jobs        map[[2]string]int64 // {outcome, trigger} -> count
	levels      map[string]int64    // consistency reached -> jobs
	frozenCount int64
	frozenSum   float64 // seconds
	frozenMax   float64
	apiCalls    int64
	apiRetries  int64
	apiSeconds  float64
	apiErrors   map[string]int64
	thawedEarly int64 // freezes ended by the deadline, a signal or the guard
	guardThaws  int64 // filesystems thawed by recovery at start
	pruned      int64
}

func newMetrics() *metrics {
	return &metrics{jobs: map[[2]string]int64{}, levels: map[string]int64{}, apiErrors: map[string]int64{}}
}

// observe records a finished job.
func (m *metrics) observe(res *job.Result) {
	if res == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.jobs[[2]string{outcomeLabel(res.Outcome), triggerLabel(res.Trigger)}]++
	level := res.Consistency
	if level == "" {
		level = "none" // nothing was created
	}
	m.levels[level]++
	m.apiCalls += res.APICalls
	m.apiRetries += res.Retries
	m.apiSeconds += float64(res.APITimeMS) / 1000
	for code, n := range res.APIErrors {
		if _, seen := m.apiErrors[code]; !seen && len(m.apiErrors) >= maxErrorCodes {
			code = otherLabel
		}
		m.apiErrors[code] += n
	}
	if f := res.Freeze; f != nil && len(f.Frozen) > 0 {
		s := float64(f.HeldMS) / 1000
		m.frozenCount++
		m.frozenSum += s
		m.frozenMax = max(m.frozenMax, s)
		if f.ThawedEarly {
			m.thawedEarly++
		}
	}
}

func (m *metrics) addGuardThaws(n int) {
	m.mu.Lock()
	m.guardThaws += int64(n)
	m.mu.Unlock()
}

func (m *metrics) addPruned(n int) {
	m.mu.Lock()
	m.pruned += int64(n)
	m.mu.Unlock()
}

// write renders the Prometheus text format.
func (m *metrics) write(w io.Writer, j *Jobs) error {
	running, queued := j.status()
	m.mu.Lock()
	defer m.mu.Unlock()
	var err error
	p := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, args...)
		}
	}
	p("# HELP ecssnap_jobs_total Jobs finished, by outcome and trigger.\n# TYPE ecssnap_jobs_total counter\n")
	keys := make([][2]string, 0, len(m.jobs))
	for k := range m.jobs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		return keys[a][0] < keys[b][0] || keys[a][0] == keys[b][0] && keys[a][1] < keys[b][1]
	})
	for _, k := range keys {
		p("ecssnap_jobs_total{outcome=\"%s\",trigger=\"%s\"} %d\n", escapeLabel(k[0]), escapeLabel(k[1]), m.jobs[k])
	}
	p("# HELP ecssnap_jobs_consistency_total Jobs finished, by the consistency level their snapshots reached (none: no snapshot).\n# TYPE ecssnap_jobs_consistency_total counter\n")
	for _, l := range slices.Sorted(maps.Keys(m.levels)) {
		p("ecssnap_jobs_consistency_total{consistency=%q} %d\n", l, m.levels[l])
	}
	p("# HELP ecssnap_freeze_held_seconds Time filesystems were frozen per job.\n# TYPE ecssnap_freeze_held_seconds summary\n")
	p("ecssnap_freeze_held_seconds_sum %g\necssnap_freeze_held_seconds_count %d\n", m.frozenSum, m.frozenCount)
	p("# HELP ecssnap_freeze_held_seconds_max Longest freeze so far.\n# TYPE ecssnap_freeze_held_seconds_max gauge\necssnap_freeze_held_seconds_max %g\n", m.frozenMax)
	p("# HELP ecssnap_api_calls_total ECS API requests sent, retries included.\n# TYPE ecssnap_api_calls_total counter\necssnap_api_calls_total %d\n", m.apiCalls)
	p("# HELP ecssnap_api_retries_total ECS API requests that were repeats.\n# TYPE ecssnap_api_retries_total counter\necssnap_api_retries_total %d\n", m.apiRetries)
	p("# HELP ecssnap_api_seconds_total Time spent in ECS API requests.\n# TYPE ecssnap_api_seconds_total counter\necssnap_api_seconds_total %g\n", m.apiSeconds)
	p("# HELP ecssnap_api_errors_total Failed ECS API requests by error code.\n# TYPE ecssnap_api_errors_total counter\n")
	codes := make([]string, 0, len(m.apiErrors))
	for c := range m.apiErrors {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		p("ecssnap_api_errors_total{code=\"%s\"} %d\n", escapeLabel(c), m.apiErrors[c])
	}
	p("# HELP ecssnap_freeze_thawed_early_total Freezes ended by the deadline, a signal or the helper's death before the job asked for the thaw.\n# TYPE ecssnap_freeze_thawed_early_total counter\necssnap_freeze_thawed_early_total %d\n", m.thawedEarly)
	p("# HELP ecssnap_thaw_recoveries_total Filesystems thawed at start from a dead process's freeze journal.\n# TYPE ecssnap_thaw_recoveries_total counter\necssnap_thaw_recoveries_total %d\n", m.guardThaws)
	p("# HELP ecssnap_snapshots_pruned_total Managed snapshots deleted by retention.\n# TYPE ecssnap_snapshots_pruned_total counter\necssnap_snapshots_pruned_total %d\n", m.pruned)
	p("# HELP ecssnap_jobs_queued Jobs waiting to run.\n# TYPE ecssnap_jobs_queued gauge\necssnap_jobs_queued %d\n", queued)
	busy := 0
	if running != "" {
		busy = 1
	}
	p("# HELP ecssnap_job_running Whether a job is running.\n# TYPE ecssnap_job_running gauge\necssnap_job_running %d\n", busy)
	return err
}

// writeTextfile replaces path with the current metrics, whole, so the
// collector never reads half.
func writeTextfile(path string, m *metrics, j *Jobs) error {
	return replacefile.Write(path, 0o644, func(w io.Writer) error { return m.write(w, j) })
}
