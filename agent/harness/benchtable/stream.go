package benchtable

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Status is how a benchmark ended.
type Status string

const (
	StatusOK      Status = "ok"
	StatusSkipped Status = "skipped"
	StatusFailed  Status = "failed"
)

// Bench is one benchmark's outcome: its custom metrics (b.ReportMetric)
// and ns/op, or why it has none.
type Bench struct {
	Name       string             `json:"name"` // as go test names it, without the -GOMAXPROCS suffix
	Package    string             `json:"package"`
	Status     Status             `json:"status"`
	Iterations int64              `json:"iterations,omitempty"`
	Metrics    map[string]float64 `json:"metrics,omitempty"` // unit -> value, e.g. "held-ms" -> 53
	// Message is the last line the benchmark logged: the skip reason or
	// the failure.
	Message string `json:"message,omitempty"`
}

// Results are the benchmarks of one or more go test runs.
type Results struct {
	Benches map[string]*Bench `json:"-"`
	// FailedPackages maps a package that failed as a whole (build error,
	// panic, timeout) to its last output line.
	FailedPackages map[string]string `json:"failed_packages,omitempty"`
	CPU            string            `json:"cpu,omitempty"`
}

// NewResults returns empty results.
func NewResults() *Results {
	return &Results{Benches: map[string]*Bench{}, FailedPackages: map[string]string{}}
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	// ImportPath names the package of build-output events; a package
	// whose test binary did not build fails with FailedBuild set to it.
	ImportPath  string
	FailedBuild string
}

// ReadStream adds the benchmarks in a `go test -json` stream to r.
func (r *Results) ReadStream(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	lastLog := map[string]string{} // test or package -> its last log line
	partial := map[string]string{} // test or package -> its unfinished line
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue // go test's own messages when the stream is mixed
		}
		var ev event
		if err := json.Unmarshal(line, &ev); err != nil {
			return fmt.Errorf("read go test -json output: %w", err)
		}
		key := ev.Package + " " + ev.Test
		switch ev.Action {
		case "build-output":
			if msg := strings.TrimSpace(ev.Output); msg != "" && !strings.HasPrefix(msg, "#") {
				lastLog["build "+ev.ImportPath] = msg
			}
		case "output":
			// test2json passes on a partial line when the output pauses,
			// as a benchmark's does between its name and its figures.
			text := partial[key] + ev.Output
			if !strings.HasSuffix(text, "\n") {
				partial[key] = text
				continue
			}
			delete(partial, key)
			for _, out := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
				r.outputLine(ev, out, lastLog)
			}
		case "skip", "fail":
			if ev.Test == "" {
				switch {
				case ev.Action != "fail":
				case ev.FailedBuild != "":
					r.FailedPackages[ev.Package] = "build failed: " + lastLog["build "+ev.FailedBuild]
				default:
					r.FailedPackages[ev.Package] = lastLog[key]
				}
				continue
			}
			st := StatusSkipped
			if ev.Action == "fail" {
				st = StatusFailed
			}
			r.Benches[ev.Test] = &Bench{Name: ev.Test, Package: ev.Package, Status: st, Message: lastLog[key]}
		}
	}
	return sc.Err()
}

// outputLine handles one complete line of output: the cpu line, a
// benchmark's result, or a log line kept to explain a skip or failure.
func (r *Results) outputLine(ev event, out string, lastLog map[string]string) {
	key := ev.Package + " " + ev.Test
	if cpu, ok := strings.CutPrefix(out, "cpu: "); ok {
		r.CPU = strings.TrimSpace(cpu)
	}
	if ev.Test == "" {
		if msg := strings.TrimSpace(out); packageMessage(msg) {
			lastLog[key] = msg
		}
		return
	}
	if b, ok := parseResultLine(out); ok {
		b.Name, b.Package = benchName(b.Name, ev.Test), ev.Package
		r.Benches[b.Name] = b
	} else if msg, ok := logMessage(out); ok {
		lastLog[key] = msg
	}
}

// parseResultLine parses a benchmark's result line,
//
//	BenchmarkX/sub-2   	       5	 197592664 ns/op	        53.00 held-ms
//
// into its name as printed, iteration count and metrics. Other lines
// return false.
func parseResultLine(line string) (*Bench, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 || !strings.HasPrefix(f[0], "Benchmark") {
		return nil, false
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return nil, false
	}
	b := &Bench{Name: f[0], Status: StatusOK, Iterations: n, Metrics: map[string]float64{}}
	for i := 2; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return nil, false
		}
		b.Metrics[f[i+1]] = v
	}
	return b, true
}

// logMessage extracts the text of a t.Log/t.Skip line, which go test
// indents and prefixes with file:line.
func logMessage(line string) (string, bool) {
	if !strings.HasPrefix(line, "    ") {
		return "", false
	}
	text := strings.TrimSpace(line)
	if loc, msg, ok := strings.Cut(text, ": "); ok && strings.Contains(loc, ".go:") {
		return msg, true
	}
	return text, true
}

// packageMessage reports whether a line of package output (outside any
// benchmark) may explain a failure, unlike go test's summary lines.
func packageMessage(line string) bool {
	for _, p := range []string{"PASS", "FAIL", "ok ", "exit status", "goos:", "goarch:", "pkg:", "cpu:", "testing: warning"} {
		if strings.HasPrefix(line, p) {
			return false
		}
	}
	return line != ""
}

// benchName is the benchmark's name without the -GOMAXPROCS suffix go test
// appends to it: the test the output belongs to when they agree, else the
// printed name with a trailing -<digits> cut.
func benchName(printed, test string) string {
	if rest, ok := strings.CutPrefix(printed, test); ok && test != "" && (rest == "" || isProcsSuffix(rest)) {
		return test
	}
	if i := strings.LastIndex(printed, "-"); i > 0 && isProcsSuffix(printed[i:]) {
		return printed[:i]
	}
	return printed
}

func isProcsSuffix(s string) bool {
	if len(s) < 2 || s[0] != '-' {
		return false
	}
	_, err := strconv.Atoi(s[1:])
	return err == nil
}
