package benchtable

import (
	"fmt"
	"sort"
	"strings"
)

// LatencyMS is the emulator's API latency L in the benchmarks whose
// targets are stated in round trips.
const LatencyMS = 50

// Verdicts of a row besides pass and miss.
const (
	VerdictPass     = "pass"
	VerdictMiss     = "miss"
	VerdictBaseline = "baseline" // the comparison, no target of its own
	VerdictInfo     = "info"     // a figure without a target
	VerdictMissing  = "missing"  // the benchmark or its metric does not exist
	VerdictFailed   = "failed"
	verdictSkipped  = "skipped"
)

// Row is one line of the table.
type Row struct {
	Group   string   `json:"group"`
	Name    string   `json:"name"`
	Value   *float64 `json:"value,omitempty"`
	Unit    string   `json:"unit,omitempty"`
	Target  string   `json:"target,omitempty"`
	Verdict string   `json:"verdict"`
	Ratio   *float64 `json:"ratio,omitempty"`
	RatioOf string   `json:"ratio_of,omitempty"`
	Note    string   `json:"note,omitempty"`
	// Detail says why a row has no value (the skip or failure message).
	Detail string `json:"detail,omitempty"`
	// Source is the benchmark and metric the value comes from.
	Source string `json:"source"`
}

// target is a limit a figure must keep.
type target struct {
	text string
	ok   func(v float64) bool
}

func atMost(limit float64, text string) *target {
	return &target{text: "≤ " + text, ok: func(v float64) bool { return v <= limit }}
}

func below(limit float64, text string) *target {
	return &target{text: "< " + text, ok: func(v float64) bool { return v < limit }}
}

// Binary is the built ecssnap binary whose size is reported.
type Binary struct {
	Path string
	Size int64 // bytes; meaningless when Err is set
	Err  error
}

// Packages of the benchmarks (as go test names them in its output).
const (
	modulePath = "github.com/ecssnap/ecssnap/"
	pkgJob     = modulePath + "pkg/job"
	pkgCLI     = modulePath + "agent/cli"
	pkgTopo    = modulePath + "pkg/topology"
)

// figure is a metric looked up in the results: its value, or the verdict
// and detail explaining its absence.
type figure struct {
	value   float64
	ok      bool
	verdict string
	detail  string
	source  string
}

// lookup finds metric unit of benchmark name in package pkg. A benchmark
// without a result inherits the skip or failure of its parent (a root
// check at the top skips every sub-benchmark) or of its package.
func (r *Results) lookup(pkg, name, unit string) figure {
	f := figure{source: name + " " + unit}
	for p := name; p != ""; p = parentName(p) {
		b, ok := r.Benches[p]
		if !ok {
			continue
		}
		switch {
		case b.Status == StatusSkipped:
			f.verdict, f.detail = skippedVerdict(b.Message), b.Message
		case b.Status == StatusFailed:
			f.verdict, f.detail = VerdictFailed, b.Message
		case p != name:
			continue // a parent that ran says nothing about this one
		default:
			v, has := b.Metrics[unit]
			if !has {
				f.verdict, f.detail = VerdictMissing, fmt.Sprintf("%s reported no %s", name, unit)
				return f
			}
			f.value, f.ok = v, true
		}
		return f
	}
	if msg, failed := r.FailedPackages[pkg]; failed {
		f.verdict, f.detail = VerdictFailed, msg
		return f
	}
	f.verdict, f.detail = VerdictMissing, "no benchmark "+name
	return f
}

func parentName(name string) string {
	i := strings.LastIndex(name, "/")
	if i < 0 {
		return ""
	}
	return name[:i]
}

func skippedVerdict(msg string) string {
	if strings.Contains(msg, "needs root") {
		return verdictSkipped + " (needs root)"
	}
	return verdictSkipped
}

// row makes a row from a figure, judging it against t (nil: no target).
func row(group, name, unit string, f figure, t *target) Row {
	r := Row{Group: group, Name: name, Unit: unit, Source: f.source}
	if t != nil {
		r.Target = t.text
	}
	if !f.ok {
		r.Verdict, r.Detail = f.verdict, f.detail
		return r
	}
	v := f.value
	r.Value = &v
	switch {
	case t == nil:
		r.Verdict = VerdictInfo
	case t.ok(v):
		r.Verdict = VerdictPass
	default:
		r.Verdict = VerdictMiss
	}
	return r
}

func setRatio(r *Row, num, den figure, of string) {
	if num.ok && den.ok && den.value > 0 {
		v := num.value / den.value
		r.Ratio, r.RatioOf = &v, of
	}
}

var diskCounts = []int{1, 4, 16}

// Groups of rows, in the order of the table.
const (
	groupFreeze  = "Freeze window (held), L = 50 ms"
	groupCreated = "snapshot-now start to all snapshots created, L = 50 ms"
	groupCalls   = "API calls per job (snapshot-now --wait, crash)"
	groupCLI     = "Hook and CLI"
	groupDaemon  = "Daemon and binary"
	groupTopo    = "Discovery"
)

// Rows turns benchmark results into the table's rows.
func Rows(r *Results, bin Binary) []Row {
	var rows []Row
	rows = append(rows, freezeRows(r)...)
	rows = append(rows, createdRows(r)...)
	rows = append(rows, callRows(r)...)
	rows = append(rows, cliRows(r)...)
	rows = append(rows, daemonRows(r, bin)...)
	disc := r.lookup(pkgTopo, "BenchmarkDiscover64", "ns/op")
	if disc.ok {
		disc.value /= 1e6
	}
	rows = append(rows, row(groupTopo, "64 disks, 200 mounts (fixture tree)", "ms", disc, below(20, "20 ms")))
	rows = append(rows, dataPlaneRows(r)...)
	return rows
}

// freezeRows: ecssnap grouped and per-disk beside the sequential baseline,
// with the ratio baseline / ecssnap for the same N.
func freezeRows(r *Results) []Row {
	limit := atMost(LatencyMS+5, fmt.Sprintf("L + 5 = %d ms", LatencyMS+5))
	var rows []Row
	for _, mode := range []string{"grouped", "per-disk"} {
		for _, n := range diskCounts {
			f := r.lookup(pkgJob, fmt.Sprintf("BenchmarkFreezeWindow/%s/N=%d", mode, n), "held-ms")
			seq := r.lookup(pkgJob, fmt.Sprintf("BenchmarkFreezeWindow/sequential/N=%d", n), "held-ms")
			rw := row(groupFreeze, fmt.Sprintf("ecssnap %s, N=%d", mode, n), "ms", f, limit)
			setRatio(&rw, seq, f, "sequential / ecssnap")
			rows = append(rows, rw)
		}
	}
	for _, n := range diskCounts {
		f := r.lookup(pkgJob, fmt.Sprintf("BenchmarkFreezeWindow/sequential/N=%d", n), "held-ms")
		rw := row(groupFreeze, fmt.Sprintf("sequential baseline, N=%d", n), "ms", f, nil)
		if f.ok {
			rw.Verdict = VerdictBaseline
			rw.Note = "freeze, CreateSnapshot one by one, thaw"
		}
		rows = append(rows, rw)
	}
	return rows
}

func createdRows(r *Results) []Row {
	limit := atMost(4*LatencyMS+30, fmt.Sprintf("4L + 30 = %d ms", 4*LatencyMS+30))
	var rows []Row
	for _, p := range []struct{ sub, name string }{
		{"crash", "crash, 4 disks (no freeze)"},
		{"fs", "fs, 4 loop filesystems frozen"},
	} {
		name := "BenchmarkSnapshotNow/" + p.sub
		rw := row(groupCreated, p.name, "ms", r.lookup(pkgCLI, name, "to-created-ms"), limit)
		var notes []string
		if f := r.lookup(pkgCLI, name, "job-to-created-ms"); f.ok {
			notes = append(notes, fmt.Sprintf("%.0f ms of it in the job", f.value))
		}
		if f := r.lookup(pkgCLI, name, "held-ms"); f.ok {
			notes = append(notes, fmt.Sprintf("held %.1f ms", f.value))
		}
		if f := r.lookup(pkgCLI, name, "exit-ms"); f.ok {
			notes = append(notes, fmt.Sprintf("exit %.0f ms", f.value))
		}
		if f := r.lookup(pkgCLI, name, "api-calls/op"); f.ok {
			notes = append(notes, fmt.Sprintf("%.0f API calls", f.value))
		}
		rw.Note = strings.Join(notes, ", ")
		rows = append(rows, rw)
	}
	return rows
}

// callKinds are BenchmarkCallsPerJob's split of the calls.
var callKinds = []string{"wait", "create", "preflight", "other"}

// callRows: the total per job, and the polling rounds while waiting, which
// must be the same for every N.
func callRows(r *Results) []Row {
	var rows []Row
	for _, mode := range []string{"grouped", "per-disk"} {
		ref := r.lookup(pkgCLI, fmt.Sprintf("BenchmarkCallsPerJob/%s/N=1", mode), "wait-calls/job")
		for _, n := range diskCounts {
			name := fmt.Sprintf("BenchmarkCallsPerJob/%s/N=%d", mode, n)
			rw := row(groupCalls, fmt.Sprintf("%s, N=%d", mode, n), "calls", r.lookup(pkgCLI, name, "calls/job"), nil)
			wait := r.lookup(pkgCLI, name, "wait-calls/job")
			var split []string
			for _, k := range callKinds {
				if f := r.lookup(pkgCLI, name, k+"-calls/job"); f.ok {
					split = append(split, fmt.Sprintf("%s %s", k, formatNumber(f.value)))
				}
			}
			rw.Note = strings.Join(split, ", ")
			switch {
			case rw.Value == nil:
			case n == 1:
				rw.Target, rw.Verdict = "wait calls: reference", VerdictInfo
			case !wait.ok || !ref.ok:
				rw.Target, rw.Verdict = "wait calls = N=1's", VerdictMissing
			default:
				rw.Target = fmt.Sprintf("wait calls = N=1's (%s)", formatNumber(ref.value))
				rw.Verdict = VerdictMiss
				if wait.value <= ref.value {
					rw.Verdict = VerdictPass
				}
				setRatio(&rw, wait, ref, "wait calls / N=1's")
			}
			rows = append(rows, rw)
		}
	}
	return rows
}

// hookBench is the benchmark of `ecssnap hook` joining a running job.
const hookBench = "BenchmarkHookCoalesced"

func cliRows(r *Results) []Row {
	var rows []Row
	limit := below(50, "50 ms")
	// One row per sub-benchmark if it has any, else one for the benchmark.
	var names []string
	for name, b := range r.Benches {
		if strings.HasPrefix(name, hookBench+"/") && b.Status == StatusOK {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	hookRow := func(label, name string) Row {
		rw := row(groupCLI, label, "ms", r.lookup(pkgCLI, name, "added-ms"), limit)
		if f := r.lookup(pkgCLI, name, "exec-floor-ms"); f.ok {
			rw.Note = fmt.Sprintf("ecssnap --version alone: %.1f ms", f.value)
		}
		return rw
	}
	if len(names) == 0 {
		rows = append(rows, hookRow("hook's added time when coalesced", hookBench))
	}
	for _, name := range names {
		rows = append(rows, hookRow("hook's added time when coalesced ("+strings.TrimPrefix(name, hookBench+"/")+")", name))
	}
	rows = append(rows, row(groupCLI, "new CLI to the daemon's first answer", "ms",
		r.lookup(pkgCLI, "BenchmarkDaemon", "first-answer-ms"), atMost(20, "20 ms")))
	return rows
}

func daemonRows(r *Results, bin Binary) []Row {
	rows := []Row{
		row(groupDaemon, "daemon idle RSS", "MB", r.lookup(pkgCLI, "BenchmarkDaemon", "idle-rss-MB"), atMost(20, "20 MB")),
		row(groupDaemon, "daemon idle wakeups", "/min", r.lookup(pkgCLI, "BenchmarkDaemon", "idle-wakeups/min"), nil),
	}
	rows[1].Note = "voluntary context switches in a 20 s idle window"
	size := figure{source: bin.Path + " (size on disk)"}
	if bin.Err != nil {
		size.verdict, size.detail = VerdictMissing, bin.Err.Error()
	} else {
		size.value, size.ok = float64(bin.Size)/(1<<20), true
	}
	rw := row(groupDaemon, "binary size (stripped bin/ecssnap)", "MB", size, atMost(20, "20 MB"))
	rows = append(rows, rw)
	return rows
}
