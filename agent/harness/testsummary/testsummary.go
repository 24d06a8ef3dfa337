// Package testsummary turns `go test -json` into what a person reads at the
// end of `make test`: the usual package lines, the output of failing tests
// only, and a closing count of tests passed, failed and skipped, with each
// skip's reason (a skipped root test must never pass unnoticed).
package testsummary

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json's TestEvent), or a
// build event (ImportPath set) of the go command.
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string
}

// Skip is one skipped test and why.
type Skip struct {
	Package, Test, Reason string
}

// Counts are the tests (subtests included) by outcome.
type Counts struct {
	Passed, Failed, Skipped int
	Skips                   []Skip
	// FailedPackages failed without a failing test (a build error, a
	// panic outside a test, a timeout).
	FailedPackages int
}

// Summarize copies the readable part of the stream in to out as it comes
// and returns the counts; Write prints them.
func Summarize(in io.Reader, out io.Writer) (Counts, error) {
	var c Counts
	type key struct{ pkg, test string }
	buffered := map[key][]string{}
	failedTests := map[string]bool{} // packages with a failing test
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if err := json.Unmarshal(line, &ev); err != nil || ev.Action == "" {
			// Not an event (the go command's own messages): as is.
			fmt.Fprintf(out, "%s\n", line)
			continue
		}
		if ev.ImportPath != "" {
			if ev.Action == "build-output" {
				io.WriteString(out, ev.Output)
			}
			continue
		}
		k := key{ev.Package, ev.Test}
		switch ev.Action {
		case "output":
			if ev.Test == "" {
				if packageLine(ev.Output) {
					io.WriteString(out, ev.Output)
				}
				continue
			}
			buffered[k] = append(buffered[k], ev.Output)
		case "pass":
			if ev.Test != "" {
				c.Passed++
			}
			delete(buffered, k)
		case "skip":
			if ev.Test != "" {
				c.Skipped++
				c.Skips = append(c.Skips, Skip{Package: ev.Package, Test: ev.Test, Reason: skipReason(buffered[k])})
			}
			delete(buffered, k)
		case "fail":
			if ev.Test == "" {
				if !failedTests[ev.Package] {
					c.FailedPackages++
				}
				continue
			}
			c.Failed++
			failedTests[ev.Package] = true
			for _, l := range buffered[k] {
				if !strings.HasPrefix(strings.TrimSpace(l), "=== ") {
					io.WriteString(out, l)
				}
			}
			delete(buffered, k)
		}
	}
	sort.Slice(c.Skips, func(i, j int) bool {
		if c.Skips[i].Package != c.Skips[j].Package {
			return c.Skips[i].Package < c.Skips[j].Package
		}
		return c.Skips[i].Test < c.Skips[j].Test
	})
	return c, sc.Err()
}

// packageLine reports whether a package-level line is one go test prints
// without -v: "ok", "FAIL", "?" lines and anything a test binary printed
// outside a test (a panic, a timeout), not the "PASS" and "=== RUN" noise
// of -json's implied verbosity.
func packageLine(s string) bool {
	t := strings.TrimSpace(s)
	return t != "" && t != "PASS" && !strings.HasPrefix(t, "=== ") && !strings.HasPrefix(t, "testing: warning: no tests to run")
}

// skipReason is what a skipped test said: its log lines, without the
// "--- SKIP" line and the file:line prefix of the message.
func skipReason(lines []string) string {
	var parts []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		if file, msg, ok := strings.Cut(t, ": "); ok && strings.Contains(file, ".go:") && !strings.Contains(file, " ") {
			t = msg
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "no reason given"
	}
	return strings.Join(parts, " ")
}

// Write prints the skips and the closing line, which comes last and reads
// "tests: N passed, N failed, N skipped".
func (c Counts) Write(w io.Writer) {
	if len(c.Skips) > 0 {
		fmt.Fprintf(w, "\nskipped:\n")
		for _, s := range c.Skips {
			fmt.Fprintf(w, "  %s %s: %s\n", s.Package, s.Test, s.Reason)
		}
	}
	if c.FailedPackages > 0 {
		fmt.Fprintf(w, "\n%d package(s) failed outside any test (build error, panic or timeout: see above)\n", c.FailedPackages)
	}
	fmt.Fprintf(w, "\ntests: %d passed, %d failed, %d skipped\n", c.Passed, c.Failed, c.Skipped)
}
