// Package benchtable runs ecssnap's benchmarks (go test -bench -json over
// a few packages), collects the figures they report with b.ReportMetric,
// and renders them as the one table `make bench` prints, each row with its
// target, a verdict and, where there is a comparison, a ratio. The same rows
// and every raw metric go to bench/results.json.
package benchtable

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// Main is ecssnap-bench: it runs the suites, prints the table to stdout and
// writes the JSON report. It returns 1 when a benchmark failed or the
// report could not be written; a missed target is a figure, not a failure.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ecssnap-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	binary := fs.String("binary", "", "`PATH` of the built ecssnap: its size is reported and the benchmarks that start ecssnap run it")
	out := fs.String("out", "bench/results.json", "`PATH` of the JSON report")
	goCmd := fs.String("go", "go", "the go `COMMAND`")
	version := fs.String("version", "", "version string recorded in the report")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ecssnap-bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}

	rn := &Runner{Go: *goCmd, Stderr: stderr}
	bin := Binary{Path: *binary, Err: fmt.Errorf("no -binary given")}
	if *binary != "" {
		abs, err := filepath.Abs(*binary)
		if err == nil {
			var fi os.FileInfo
			if fi, err = os.Stat(abs); err == nil {
				bin.Size, bin.Err = fi.Size(), nil
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "ecssnap-bench: -binary %s: %v (build it first: make build)\n", *binary, err)
			return 1
		}
		rn.BinaryEnv = "ECSSNAP_BENCH_BIN=" + abs
	}

	res := NewResults()
	var runs []Run
	for _, s := range Suites {
		run, err := rn.Run(ctx, s, res)
		if err != nil {
			fmt.Fprintf(stderr, "ecssnap-bench: %s: %v\n", s.Package, err)
			return 1
		}
		runs = append(runs, run)
	}

	rows := Rows(res, bin)
	rep := NewReport(res, rows, runs)
	rep.Version, rep.Binary = *version, *binary
	rep.Go, rep.Platform, rep.CPUs = runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU()
	rep.Root = os.Geteuid() == 0
	fmt.Fprintln(stdout)
	if err := WriteTable(stdout, rep); err != nil {
		fmt.Fprintf(stderr, "ecssnap-bench: %v\n", err)
		return 1
	}
	if err := rep.WriteJSON(*out); err != nil {
		fmt.Fprintf(stderr, "ecssnap-bench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nwritten: %s\n", *out)
	for _, r := range rows {
		if r.Verdict == VerdictFailed {
			fmt.Fprintf(stderr, "ecssnap-bench: %s / %s failed: %s\n", r.Group, r.Name, r.Detail)
			return 1
		}
	}
	return 0
}
