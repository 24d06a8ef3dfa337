package benchtable

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseResultLine(t *testing.T) {
	tests := []struct {
		line    string
		ok      bool
		name    string
		n       int64
		metrics map[string]float64
	}{
		{line: "BenchmarkFreezeWindow/grouped/N=1-2   \t       5\t 197592664 ns/op\t        53.00 held-ms", ok: true,
			name: "BenchmarkFreezeWindow/grouped/N=1-2", n: 5, metrics: map[string]float64{"ns/op": 197592664, "held-ms": 53}},
		{line: "BenchmarkDaemon-2   \t      10\t    849167 ns/op\t         0 idle-wakeups/min", ok: true,
			name: "BenchmarkDaemon-2", n: 10, metrics: map[string]float64{"ns/op": 849167, "idle-wakeups/min": 0}},
		{line: "BenchmarkFreezeWindow/grouped/N=1"},              // the name announced before the run
		{line: "--- BENCH: BenchmarkDaemon-2"},                   // header of its log
		{line: "BenchmarkX-2 \t 5 \t 12 ns/op \t 3"},             // a value without unit
		{line: "BenchmarkX-2 \t many \t 12 ns/op"},               // no iteration count
		{line: "BenchmarkX-2 \t 5 \t twelve ns/op \t 3 held-ms"}, // malformed value
		{line: "    bench_test.go:12: Benchmark 5 6 ns/op"},
		{line: ""},
	}
	for _, tt := range tests {
		b, ok := parseResultLine(tt.line)
		if ok != tt.ok {
			t.Errorf("parseResultLine(%q) ok = %v, want %v", tt.line, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if b.Name != tt.name || b.Iterations != tt.n || len(b.Metrics) != len(tt.metrics) {
			t.Errorf("parseResultLine(%q) = %+v", tt.line, b)
		}
		for unit, want := range tt.metrics {
			if got := b.Metrics[unit]; got != want {
				t.Errorf("parseResultLine(%q) %s = %v, want %v", tt.line, unit, got, want)
			}
		}
	}
}

func TestBenchName(t *testing.T) {
	tests := []struct{ printed, test, want string }{
		{"BenchmarkFreezeWindow/grouped/N=16-2", "BenchmarkFreezeWindow/grouped/N=16", "BenchmarkFreezeWindow/grouped/N=16"},
		{"BenchmarkDaemon", "BenchmarkDaemon", "BenchmarkDaemon"}, // GOMAXPROCS=1: no suffix
		{"BenchmarkDaemon-16", "", "BenchmarkDaemon"},
		{"BenchmarkCalls/per-disk-8", "BenchmarkOther", "BenchmarkCalls/per-disk"},
		{"BenchmarkCalls/per-disk", "", "BenchmarkCalls/per-disk"},
	}
	for _, tt := range tests {
		if got := benchName(tt.printed, tt.test); got != tt.want {
			t.Errorf("benchName(%q, %q) = %q, want %q", tt.printed, tt.test, got, tt.want)
		}
	}
}

func TestLogMessage(t *testing.T) {
	tests := []struct {
		line, want string
		ok         bool
	}{
		{"    testenv.go:29: this test needs root (loop devices)", "this test needs root (loop devices)", true},
		{"    a plain indented line", "a plain indented line", true},
		{"--- SKIP: BenchmarkX", "", false},
	}
	for _, tt := range tests {
		got, ok := logMessage(tt.line)
		if got != tt.want || ok != tt.ok {
			t.Errorf("logMessage(%q) = %q, %v; want %q, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

// readTestStream reads testdata/stream.json: real `go test -bench -json`
// output of stand-in benchmarks with ecssnap's names, in which
// FreezeWindow/per-disk/N=4 fails, SnapshotNow/fs skips for lack of root,
// BenchmarkHookCoalesced does not exist and pkg/topology does not build.
func readTestStream(t *testing.T) *Results {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "stream.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res := NewResults()
	if err := res.ReadStream(f); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestReadStream(t *testing.T) {
	res := readTestStream(t)
	if res.CPU == "" {
		t.Error("no cpu line found")
	}
	check := func(name string, st Status, msg string) *Bench {
		t.Helper()
		b, ok := res.Benches[name]
		if !ok {
			t.Errorf("%s: not found", name)
			return &Bench{}
		}
		if b.Status != st || !strings.Contains(b.Message, msg) {
			t.Errorf("%s: status %s, message %q; want %s, %q", name, b.Status, b.Message, st, msg)
		}
		return b
	}
	if b := check("BenchmarkFreezeWindow/grouped/N=1", StatusOK, ""); b.Metrics["held-ms"] != 53 || b.Iterations != 2 {
		t.Errorf("grouped N=1: %+v", b)
	}
	check("BenchmarkFreezeWindow/per-disk/N=4", StatusFailed, "froze 3 filesystems, want 4")
	check("BenchmarkSnapshotNow/fs", StatusSkipped, "needs root")
	if b := check("BenchmarkDaemon", StatusOK, ""); b.Metrics["idle-rss-MB"] != 10.62 {
		t.Errorf("daemon: %+v", b)
	}
	if msg := res.FailedPackages[pkgTopo]; !strings.Contains(msg, "undefined: bigMachine") {
		t.Errorf("topology failure = %q", msg)
	}
	if msg, failed := res.FailedPackages[pkgCLI]; failed {
		t.Errorf("agent/cli recorded as failed: %q", msg)
	}
}

func TestRows(t *testing.T) {
	rows := Rows(readTestStream(t), Binary{Path: "bin/ecssnap", Size: 10 << 20})
	byName := map[string]Row{}
	for _, r := range rows {
		key := r.Group + " / " + r.Name
		if _, dup := byName[key]; dup {
			t.Errorf("row %q twice", key)
		}
		byName[key] = r
	}
	tests := []struct {
		group, name string
		value       float64 // NaN: no value
		verdict     string
		ratio       float64 // 0: no ratio
	}{
		{groupFreeze, "ecssnap grouped, N=1", 53, VerdictInfo, 53.66 / 53},
		{groupFreeze, "ecssnap grouped, N=1: agent's share", math.NaN(), VerdictMissing, 0},
		{groupFreeze, "ecssnap grouped, N=16", 59, VerdictInfo, 826.0 / 59},
		{groupFreeze, "ecssnap per-disk, N=4", math.NaN(), VerdictFailed, 0},
		{groupFreeze, "ecssnap per-disk, N=4: agent's share", math.NaN(), VerdictFailed, 0},
		{groupFreeze, "ecssnap per-disk, N=16", 55, VerdictInfo, 826.0 / 55},
		{groupFreeze, "sequential baseline, N=16", 826, VerdictBaseline, 0},
		{groupCreated, "crash, in process, N=4", math.NaN(), VerdictMissing, 0},
		{groupCreated, "crash, through the daemon, N=16", math.NaN(), VerdictMissing, 0},
		{groupCreated, "fs, in process, 4 loop filesystems frozen", math.NaN(), "skipped (needs root)", 0},
		{groupNoWait, "through the daemon, N=1", math.NaN(), VerdictMissing, 0},
		{groupCalls, "grouped, N=1", 8, VerdictInfo, 0},
		{groupCalls, "grouped, N=4", 11, VerdictPass, 1},
		{groupCalls, "grouped, N=16", 24, VerdictMiss, 5.0 / 4},
		{groupCalls, "per-disk, N=4", math.NaN(), VerdictMissing, 0},
		{groupCLI, "hook's added time when coalesced", math.NaN(), VerdictMissing, 0},
		{groupCLI, "new CLI to the daemon's first answer", 0.8156, VerdictPass, 0},
		{groupDaemon, "daemon idle RSS", 10.62, VerdictPass, 0},
		{groupDaemon, "daemon idle wakeups", 0, VerdictInfo, 0},
		{groupDaemon, "binary size (stripped bin/ecssnap)", 10, VerdictPass, 0},
		{groupTopo, "64 disks, 200 mounts (fixture tree)", math.NaN(), VerdictFailed, 0},
	}
	for _, tt := range tests {
		r, ok := byName[tt.group+" / "+tt.name]
		if !ok {
			t.Errorf("no row %s / %s", tt.group, tt.name)
			continue
		}
		switch {
		case math.IsNaN(tt.value) && r.Value != nil:
			t.Errorf("%s: value %v, want none", tt.name, *r.Value)
		case !math.IsNaN(tt.value) && (r.Value == nil || math.Abs(*r.Value-tt.value) > 1e-9):
			t.Errorf("%s: value %v, want %v", tt.name, r.Value, tt.value)
		}
		if r.Verdict != tt.verdict {
			t.Errorf("%s / %s: verdict %q, want %q (detail %q)", tt.group, tt.name, r.Verdict, tt.verdict, r.Detail)
		}
		switch {
		case tt.ratio == 0 && r.Ratio != nil:
			t.Errorf("%s: ratio %v, want none", tt.name, *r.Ratio)
		case tt.ratio != 0 && (r.Ratio == nil || math.Abs(*r.Ratio-tt.ratio) > 1e-9):
			t.Errorf("%s: ratio %v, want %v", tt.name, r.Ratio, tt.ratio)
		}
		if r.Verdict != VerdictPass && r.Verdict != VerdictMiss && r.Verdict != VerdictInfo && r.Verdict != VerdictBaseline && r.Detail == "" {
			t.Errorf("%s: verdict %s without a detail", tt.name, r.Verdict)
		}
	}
}

func TestRowsHookSubBenchmarks(t *testing.T) {
	res := NewResults()
	res.Benches[hookBench+"/apt"] = &Bench{Name: hookBench + "/apt", Status: StatusOK, Metrics: map[string]float64{"added-ms": 12}}
	res.Benches[hookBench+"/dnf"] = &Bench{Name: hookBench + "/dnf", Status: StatusOK, Metrics: map[string]float64{"added-ms": 61}}
	var got []string
	for _, r := range Rows(res, Binary{Err: os.ErrNotExist}) {
		if strings.HasPrefix(r.Name, "hook's added time when coalesced") {
			got = append(got, r.Name+" "+r.Verdict)
		}
	}
	want := []string{"hook's added time when coalesced (apt) pass", "hook's added time when coalesced (dnf) miss"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("hook rows = %q, want %q", got, want)
	}
}

func TestReportOutputs(t *testing.T) {
	res := readTestStream(t)
	rows := Rows(res, Binary{Path: "bin/ecssnap", Size: 10 << 20})
	rep := NewReport(res, rows, []Run{{Suite: Suites[0], Seconds: 1}})
	var buf bytes.Buffer
	if err := WriteTable(&buf, rep); err != nil {
		t.Fatal(err)
	}
	table := buf.String()
	if strings.Count(table, "FIGURE") != 1 {
		t.Errorf("want one table header:\n%s", table)
	}
	for _, r := range rows {
		if !strings.Contains(table, r.Name) {
			t.Errorf("table lacks row %q", r.Name)
		}
	}
	for _, want := range []string{"53 ms", "≤ L + 5 = 55 ms", "skipped (needs root)", "missing", "14.0x", "≤ 2L + 15 = 115 ms", "≤ L + 10 = 60 ms"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}

	path := filepath.Join(t.TempDir(), "bench", "results.json")
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Rows) != len(rows) || len(back.Benchmarks) != len(res.Benches) || back.APILatencyMS != LatencyMS {
		t.Errorf("results.json: %d rows, %d benchmarks, latency %d", len(back.Rows), len(back.Benchmarks), back.APILatencyMS)
	}
}

func TestFormatNumber(t *testing.T) {
	for v, want := range map[float64]string{53: "53", 0: "0", 0.8156: "0.82", 230.45: "230.4", 10.25: "10.2", 826.04: "826.0"} {
		if got := formatNumber(v); got != want {
			t.Errorf("formatNumber(%v) = %q, want %q", v, got, want)
		}
	}
}

// test2json hands on a benchmark's name and its figures as two events when
// the benchmark takes a while; they are one result.
func TestReadStreamSplitLine(t *testing.T) {
	stream := `{"Action":"output","Package":"p","Test":"BenchmarkA/N=16","Output":"BenchmarkA/N=16\n"}
{"Action":"output","Package":"p","Test":"BenchmarkA/N=16","Output":"BenchmarkA/N=16-2         \t"}
{"Action":"output","Package":"p","Test":"BenchmarkB","Output":"    b_test.go:3: unrelated\n"}
{"Action":"output","Package":"p","Test":"BenchmarkA/N=16","Output":"       2\t 219857743 ns/op\t        54.50 held-ms\n"}
`
	res := NewResults()
	if err := res.ReadStream(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	b, ok := res.Benches["BenchmarkA/N=16"]
	if !ok || b.Iterations != 2 || b.Metrics["held-ms"] != 54.5 {
		t.Errorf("BenchmarkA/N=16 = %+v (found %v)", b, ok)
	}
}

// The freeze window's target applies to the agent's share: held less the
// kernel's FIFREEZE and FITHAW.
func TestRowsAgentShare(t *testing.T) {
	res := NewResults()
	name := "BenchmarkFreezeWindow/grouped/N=4"
	res.Benches[name] = &Bench{Name: name, Status: StatusOK, Metrics: map[string]float64{"held-ms": 70, "fifreeze-ms": 9, "fithaw-ms": 8}}
	for _, r := range Rows(res, Binary{Err: os.ErrNotExist}) {
		switch r.Name {
		case "ecssnap grouped, N=4":
			if r.Verdict != VerdictInfo || r.Value == nil || *r.Value != 70 {
				t.Errorf("held row = %+v", r)
			}
		case "ecssnap grouped, N=4: agent's share":
			if r.Verdict != VerdictPass || r.Value == nil || *r.Value != 53 || !strings.Contains(r.Note, "FIFREEZE 9.0 + FITHAW 8.0") {
				t.Errorf("agent's share row = %+v", r)
			}
		}
	}
}
