package benchtable

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Suite is one `go test -bench` invocation. Benchmarks that cost a second
// or more per iteration get a fixed count; the daemon's needs more than one
// iteration (its idle window runs on the final round).
type Suite struct {
	Package   string `json:"package"` // as go test takes it: ./pkg/job/
	Bench     string `json:"bench"`   // the -bench pattern
	Benchtime string `json:"benchtime"`
}

// Suites are the benchmarks behind the table's rows.
var Suites = []Suite{
	{Package: "./pkg/topology/", Bench: "^BenchmarkDiscover64$", Benchtime: "1s"},
	{Package: "./pkg/job/", Bench: "^BenchmarkFreezeWindow$", Benchtime: "5x"},
	{Package: "./agent/cli/", Bench: "^(BenchmarkSnapshotNow|BenchmarkToCreated|" + hookBench + "|" + hookNewBench + "|BenchmarkDaemon|" + startBench + ")$", Benchtime: "10x"},
	{Package: "./agent/cli/", Bench: "^BenchmarkCallsPerJob$", Benchtime: "1x"},
	{Package: "./pkg/ecsemu/dataplane/", Bench: "^BenchmarkGroupCapturePause$", Benchtime: "100x"},
	{Package: "./pkg/ecsemu/dataplane/", Bench: "^BenchmarkGuestSeqWrite$", Benchtime: "4x"},
}

// Run records one suite's invocation for the report.
type Run struct {
	Suite
	Seconds  float64 `json:"seconds"`
	ExitCode int     `json:"exit_code"`
}

// Runner runs suites with the go command.
type Runner struct {
	Go string // the go command
	// BinaryEnv is the environment entry naming the built ecssnap binary
	// for benchmarks that start it as a process ("" for none).
	BinaryEnv string
	Stderr    io.Writer // go test's own errors and progress lines
	// Raw, when set, receives a copy of go test's JSON output.
	Raw io.Writer
}

// Run runs one suite and adds its benchmarks to res. A failing go test
// (a benchmark failed, or the package did not build) is recorded in res and
// in the returned Run, not returned as an error; errors are for a go
// command that could not run or output that could not be read.
func (rn *Runner) Run(ctx context.Context, s Suite, res *Results) (Run, error) {
	args := []string{"test", "-run", "^$", "-bench", s.Bench, "-benchtime", s.Benchtime,
		"-count", "1", "-timeout", "30m", "-json", s.Package}
	fmt.Fprintf(rn.Stderr, "bench: %s %s\n", rn.Go, shellQuote(args))
	cmd := exec.CommandContext(ctx, rn.Go, args...)
	cmd.Env = os.Environ()
	if rn.BinaryEnv != "" {
		cmd.Env = append(cmd.Env, rn.BinaryEnv)
	}
	cmd.Stderr = rn.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return Run{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Run{}, fmt.Errorf("run %s: %w", rn.Go, err)
	}
	var stream io.Reader = out
	if rn.Raw != nil {
		stream = io.TeeReader(out, rn.Raw)
	}
	readErr := res.ReadStream(stream)
	if readErr != nil {
		_, _ = io.Copy(io.Discard, out) // let go test finish
	}
	waitErr := cmd.Wait()
	run := Run{Suite: s, Seconds: time.Since(start).Seconds()}
	var exit *exec.ExitError
	switch {
	case readErr != nil:
		return run, readErr
	case errors.As(waitErr, &exit):
		run.ExitCode = exit.ExitCode()
	case waitErr != nil:
		return run, fmt.Errorf("run %s: %w", rn.Go, waitErr)
	}
	fmt.Fprintf(rn.Stderr, "bench: %s done in %.0f s (exit %d)\n", s.Package, run.Seconds, run.ExitCode)
	return run, nil
}

// shellQuote renders args so that they can be pasted into a shell.
func shellQuote(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, "^$|()* ") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
