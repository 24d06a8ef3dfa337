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
	groupNoWait  = "snapshot-now --no-wait, the caller's wall time (binary start included), L = 50 ms"
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
	rows = append(rows, noWaitRows(r)...)
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
			name := fmt.Sprintf("BenchmarkFreezeWindow/%s/N=%d", mode, n)
			f := r.lookup(pkgJob, name, "held-ms")
			seq := r.lookup(pkgJob, fmt.Sprintf("BenchmarkFreezeWindow/sequential/N=%d", n), "held-ms")
			rw := row(groupFreeze, fmt.Sprintf("ecssnap %s, N=%d", mode, n), "ms", f, nil)
			setRatio(&rw, seq, f, "sequential / ecssnap")
			rows = append(rows, rw)
			// The target is the agent's own share: held less the
			// kernel's FIFREEZE and FITHAW, which no agent can shorten.
			frz, thw := r.lookup(pkgJob, name, "fifreeze-ms"), r.lookup(pkgJob, name, "fithaw-ms")
			share := f
			switch {
			case !f.ok:
			case !frz.ok || !thw.ok:
				share = frz
				if frz.ok {
					share = thw
				}
			default:
				share.value = f.value - frz.value - thw.value
				share.source = name + " held-ms - fifreeze-ms - fithaw-ms"
			}
			sr := row(groupFreeze, fmt.Sprintf("ecssnap %s, N=%d: agent's share", mode, n), "ms", share, limit)
			if f.ok && frz.ok && thw.ok {
				sr.Note = fmt.Sprintf("held %.1f ms = kernel FIFREEZE %.1f + FITHAW %.1f + agent %.1f", f.value, frz.value, thw.value, share.value)
			}
			rows = append(rows, sr)
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

// The targets of start -> created at crash level, in round trips: in
// process DescribeDisks (with everything that does not need it beside it)
// and the create; through the daemon the create alone.
var (
	inProcessCreated = atMost(2*LatencyMS+15, fmt.Sprintf("2L + 15 = %d ms", 2*LatencyMS+15))
	daemonCreated    = atMost(LatencyMS+10, fmt.Sprintf("L + 10 = %d ms", LatencyMS+10))
	inProcessNoWait  = atMost(2*LatencyMS+40, fmt.Sprintf("2L + 40 = %d ms", 2*LatencyMS+40))
	daemonNoWait     = atMost(LatencyMS+25, fmt.Sprintf("L + 25 = %d ms", LatencyMS+25))
)

// toCreatedPaths are BenchmarkToCreated's paths.
var toCreatedPaths = []struct {
	sub, label      string
	created, noWait *target
}{
	{"in-process", "in process", inProcessCreated, inProcessNoWait},
	{"daemon", "through the daemon", daemonCreated, daemonNoWait},
}

func createdRows(r *Results) []Row {
	var rows []Row
	for _, p := range toCreatedPaths {
		for _, n := range diskCounts {
			name := fmt.Sprintf("BenchmarkToCreated/%s/N=%d", p.sub, n)
			rw := row(groupCreated, fmt.Sprintf("crash, %s, N=%d", p.label, n), "ms", r.lookup(pkgCLI, name, "to-created-ms"), p.created)
			var notes []string
			if f := r.lookup(pkgCLI, name, "calls/job"); f.ok {
				notes = append(notes, fmt.Sprintf("%s API calls per job, bookkeeping included", formatNumber(f.value)))
			}
			if f := r.lookup(pkgCLI, name, "warm-view"); f.ok && p.sub == "daemon" {
				notes = append(notes, fmt.Sprintf("%.0f%% of jobs planned from the warm view", 100*f.value))
			}
			rw.Note = strings.Join(notes, ", ")
			rows = append(rows, rw)
		}
	}
	rows = append(rows, row(groupCreated, "crash, in process, N=4, 1000 jobs in the history", "ms",
		r.lookup(pkgCLI, "BenchmarkToCreated/in-process-history/N=4", "to-created-ms"), inProcessCreated))
	name := "BenchmarkSnapshotNow/fs"
	rw := row(groupCreated, "fs, in process, 4 loop filesystems frozen", "ms", r.lookup(pkgCLI, name, "to-created-ms"), nil)
	var notes []string
	if f := r.lookup(pkgCLI, name, "held-ms"); f.ok {
		notes = append(notes, fmt.Sprintf("held %.1f ms", f.value))
	}
	if f := r.lookup(pkgCLI, name, "api-calls/op"); f.ok {
		notes = append(notes, fmt.Sprintf("%.0f API calls", f.value))
	}
	rw.Note = strings.Join(notes, ", ")
	return append(rows, rw)
}

// noWaitRows: what a caller that does not wait sees, binary start
// included.
func noWaitRows(r *Results) []Row {
	var rows []Row
	for _, p := range toCreatedPaths {
		for _, n := range diskCounts {
			name := fmt.Sprintf("BenchmarkToCreated/%s/N=%d", p.sub, n)
			rows = append(rows, row(groupNoWait, fmt.Sprintf("%s, N=%d", p.label, n), "ms", r.lookup(pkgCLI, name, "exit-ms"), p.noWait))
		}
	}
	return append(rows, row(groupNoWait, "in process, N=4, 1000 jobs in the history", "ms",
		r.lookup(pkgCLI, "BenchmarkToCreated/in-process-history/N=4", "exit-ms"), inProcessNoWait))
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

// hookBench is the benchmark of `ecssnap hook` joining a running job;
// hookNewBench of one that starts its own.
const (
	hookBench    = "BenchmarkHookCoalesced"
	hookNewBench = "BenchmarkHookUncoalesced"
)

// startBench is the benchmark of what the CLI library adds to a start.
const startBench = "BenchmarkStart"

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
	un := row(groupCLI, "hook's added time, a job of its own (daemon, 4 disks, crash)", "ms",
		r.lookup(pkgCLI, hookNewBench, "added-ms"), daemonNoWait)
	rows = append(rows, un)
	if len(names) == 0 {
		rows = append(rows, hookRow("hook's added time when coalesced", hookBench))
	}
	for _, name := range names {
		rows = append(rows, hookRow("hook's added time when coalesced ("+strings.TrimPrefix(name, hookBench+"/")+")", name))
	}
	// What the command-line library (cobra) adds to every start, which
	// every package-manager hook pays.
	start := row(groupCLI, "CLI library's start cost (cobra init + command tree)", "ms",
		r.lookup(pkgCLI, startBench, "cli-lib-ms"), atMost(2, "2 ms"))
	if f := r.lookup(pkgCLI, startBench, "exec-ms"); f.ok {
		start.Note = fmt.Sprintf("ecssnap --version exec: %.1f ms", f.value)
	}
	rows = append(rows, start)
	rows = append(rows, row(groupCLI, "new CLI to the daemon's first answer", "ms",
		r.lookup(pkgCLI, "BenchmarkDaemon", "first-answer-ms"), atMost(20, "20 ms")))
	return rows
}

func daemonRows(r *Results, bin Binary) []Row {
	rows := []Row{
		row(groupDaemon, "daemon idle RSS", "MB", r.lookup(pkgCLI, "BenchmarkDaemon", "idle-rss-MB"), atMost(20, "20 MB")),
		row(groupDaemon, "daemon idle wakeups", "/min", r.lookup(pkgCLI, "BenchmarkDaemon", "idle-wakeups/min"), nil),
	}
	// The target (our own code wakes at most once a minute) is about
	// what the count is made of, so the row shows the parts it can name.
	rows[1].Target = "ours ≤ 1/min; the rest the Go runtime's"
	note := "voluntary context switches of all threads after a job and a settle"
	if f := r.lookup(pkgCLI, "BenchmarkDaemon", "idle-window-s"); f.ok {
		note += fmt.Sprintf(", over %.0f s", f.value)
	}
	if f := r.lookup(pkgCLI, "BenchmarkDaemon", "forced-gc/min"); f.ok {
		note += fmt.Sprintf("; forced GC cycles %.2f/min (the runtime's, every 2 min)", f.value)
	}
	if f := r.lookup(pkgCLI, "BenchmarkDaemon", "notices/min"); f.ok {
		note += fmt.Sprintf("; kernel block notices %.2f/min (attach, detach, resize)", f.value)
	}
	rows[1].Note = note
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
