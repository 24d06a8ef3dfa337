// Package consistency is the consistency experiment (make consistency):
// real filesystems on the emulator's data-plane disks under a writer of
// checksummed, fsync'd records, snapshotted by the documentation's
// per-disk procedure and by ecssnap's methods; each trial's snapshots are
// turned into new disks and the clone is judged (mounts, scrub or fsck,
// every file read, every acknowledged record present and intact). It
// prints a table and writes JSON, and fails when an ecssnap method loses
// an acknowledged record or breaks a filesystem, or when the per-disk
// procedure is never caught breaking the two-disk btrfs (a detector that
// cannot fail proves nothing). Root only; Linux only.
package consistency

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Exit codes: 77 means skipped (not root), as make's wrapper expects.
const (
	exitOK      = 0
	exitFail    = 1
	exitUsage   = 64
	exitSkipped = 77
)

// Options are the experiment's flags.
type Options struct {
	Trials     int
	Gaps       []time.Duration // extra gaps between per-disk creates, one row each
	Warmup     time.Duration   // writer load before each capture
	Ecssnap    string          // the ecssnap binary
	Out        string          // JSON results
	Workloads  []string
	Methods    []string
	RecordSize int
	Writers    int
	Scratch    string
	Keep       bool
	Verbose    bool
}

// Method names, as the table shows them.
const (
	MethodPerDisk    = "per-disk (documented)" // + ", +<gap> gap" in the table
	MethodCrashGroup = "ecssnap crash (group)"
	MethodFSNoGroup  = "ecssnap fs (no group)"
	MethodFSGroup    = "ecssnap fs (group)"
)

var methodKeys = map[string]string{
	"perdisk": MethodPerDisk, "crash": MethodCrashGroup, "fs-nogroup": MethodFSNoGroup, "fs-group": MethodFSGroup,
}

var allWorkloads = []string{"btrfs-raid0", "ext4", "xfs", "lvm-striped", "md-raid0"}

const usageText = `usage: ecssnap-consistency [flags]

Runs the consistency experiment as root: filesystems on the emulator's
data-plane disks under a writer of fsync'd records, snapshotted by each
method, every snapshot cloned into new disks and judged.

flags:
  -trials N         trials per workload and method (default 20; CI runs 3)
  -gaps LIST        extra gaps between the per-disk procedure's creates, one row each
                    (default 50ms,100ms,300ms; the API round trip comes on top)
  -warmup DUR       writer load before each capture (default 1s)
  -ecssnap PATH     the ecssnap binary (default bin/ecssnap)
  -out FILE         JSON results (default bench/consistency.json)
  -workloads LIST   comma-separated, of btrfs-raid0,ext4,xfs,lvm-striped,md-raid0 (default all)
  -methods LIST     comma-separated, of perdisk,crash,fs-nogroup,fs-group (default all)
  -record-size N    record payload bytes (default 262144)
  -writers N        writers per filesystem (default 2)
  -scratch DIR      where images and mounts go (default a temporary directory)
  -keep             keep the scratch directory
  -v                log each trial
`

// Main runs the experiment with args and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usageText)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "ecssnap-consistency: %v (see -h)\n", err)
		return exitUsage
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(stderr, "ecssnap-consistency: CI=true but not root: the experiment needs root (FUSE, loop devices, mounts)")
			return exitFail
		}
		fmt.Fprintln(stderr, "ecssnap-consistency: skipped: needs root (FUSE, loop devices, mounts)")
		return exitSkipped
	}
	if os.Getenv(privateNSEnv) == "" {
		return reexecPrivate(ctx, args, stdout, stderr)
	}
	rep, err := run(ctx, opts, stdout, stderr)
	if rep != nil {
		rep.render(stdout)
		if werr := rep.write(opts.Out); werr != nil {
			fmt.Fprintf(stderr, "ecssnap-consistency: %v\n", werr)
			return exitFail
		}
		fmt.Fprintf(stdout, "\nresults: %s\n", opts.Out)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ecssnap-consistency: %v\n", err)
		return exitFail
	}
	if problems := rep.verdict(); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(stderr, "ecssnap-consistency: FAIL: %s\n", p)
		}
		return exitFail
	}
	return exitOK
}

func parseFlags(args []string) (*Options, error) {
	o := &Options{}
	fs := flag.NewFlagSet("ecssnap-consistency", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var workloads, methods, gaps string
	fs.IntVar(&o.Trials, "trials", 20, "")
	fs.StringVar(&gaps, "gaps", "50ms,100ms,300ms", "")
	fs.DurationVar(&o.Warmup, "warmup", time.Second, "")
	fs.StringVar(&o.Ecssnap, "ecssnap", "bin/ecssnap", "")
	fs.StringVar(&o.Out, "out", filepath.Join("bench", "consistency.json"), "")
	fs.StringVar(&workloads, "workloads", strings.Join(allWorkloads, ","), "")
	fs.StringVar(&methods, "methods", "perdisk,crash,fs-nogroup,fs-group", "")
	fs.IntVar(&o.RecordSize, "record-size", 256<<10, "")
	fs.IntVar(&o.Writers, "writers", 2, "")
	fs.StringVar(&o.Scratch, "scratch", "", "")
	fs.BoolVar(&o.Keep, "keep", false, "")
	fs.BoolVar(&o.Verbose, "v", false, "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.Trials < 1 {
		return nil, errors.New("-trials must be at least 1")
	}
	if o.RecordSize < 1 || o.RecordSize > maxPayload {
		return nil, fmt.Errorf("-record-size must be 1..%d", maxPayload)
	}
	if o.Writers < 1 {
		return nil, errors.New("-writers must be at least 1")
	}
	for _, g := range strings.Split(gaps, ",") {
		d, err := time.ParseDuration(g)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("-gaps: %q is not a duration", g)
		}
		o.Gaps = append(o.Gaps, d)
	}
	for _, w := range strings.Split(workloads, ",") {
		if !contains(allWorkloads, w) {
			return nil, fmt.Errorf("unknown workload %q", w)
		}
		o.Workloads = append(o.Workloads, w)
	}
	for _, m := range strings.Split(methods, ",") {
		name, ok := methodKeys[m]
		if !ok {
			return nil, fmt.Errorf("unknown method %q", m)
		}
		o.Methods = append(o.Methods, name)
	}
	abs, err := filepath.Abs(o.Ecssnap)
	if err != nil {
		return nil, err
	}
	o.Ecssnap = abs
	return o, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Trial is one capture and the judgement of its clone.
type Trial struct {
	Mounted   bool     `json:"mounted"`
	Errors    []string `json:"errors,omitempty"` // scrub, fsck, unreadable files
	Expected  int      `json:"expected_records"`
	Lost      int      `json:"lost_records"`
	Torn      int      `json:"torn_records"`
	Files     int      `json:"files"`
	GapMS     float64  `json:"capture_span_ms"` // first create call to last create returned
	Achieved  string   `json:"consistency,omitempty"`
	Failure   string   `json:"failure,omitempty"` // the method itself failed
	Snapshots []string `json:"snapshots,omitempty"`
}

// broken reports whether the clone is damaged.
func (t Trial) broken() bool { return !t.Mounted || len(t.Errors) > 0 }

// Cell is one workload and method.
type Cell struct {
	Workload string  `json:"workload"`
	Method   string  `json:"method"`
	GapMS    int64   `json:"gap_ms,omitempty"` // per-disk only
	Skipped  string  `json:"skipped,omitempty"`
	Trials   []Trial `json:"trials,omitempty"`
}

// Report is the whole run.
type Report struct {
	Started time.Time `json:"started"`
	Kernel  string    `json:"kernel"`
	Options struct {
		Trials     int     `json:"trials"`
		GapsMS     []int64 `json:"gaps_ms"`
		RecordSize int     `json:"record_size"`
		Writers    int     `json:"writers"`
		Warmup     string  `json:"warmup"`
	} `json:"options"`
	Cells []Cell `json:"cells"`
}

func (r *Report) write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// cellsFor lists a workload's rows: the per-disk procedure once per gap,
// then ecssnap's methods.
func cellsFor(workload string, o *Options) []Cell {
	var out []Cell
	for _, m := range o.Methods {
		if m != MethodPerDisk {
			out = append(out, Cell{Workload: workload, Method: m})
			continue
		}
		for _, g := range o.Gaps {
			out = append(out, Cell{Workload: workload, Method: m, GapMS: g.Milliseconds()})
		}
	}
	return out
}

// privateNSEnv marks the process re-executed in its own mount namespace.
const privateNSEnv = "ECSSNAP_CONSISTENCY_PRIVATE_MOUNTS"

// reexecPrivate runs the experiment again in a private mount namespace. A
// process elsewhere that makes a mount namespace (unshare -m, a container)
// while our filesystems are mounted keeps a copy of their mounts, and
// with it the filesystem alive after we unmount ours; btrfs then refuses
// to let go of the devices and a clone with the same ID cannot be
// mounted. In a namespace of our own, nobody else sees our mounts.
func reexecPrivate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "ecssnap-consistency: %v\n", err)
		return exitFail
	}
	cmd := exec.CommandContext(ctx, "unshare", append([]string{"--mount", "--propagation", "private", self}, args...)...)
	cmd.Env = append(os.Environ(), privateNSEnv+"=1")
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = time.Minute
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintf(stderr, "ecssnap-consistency: run in a private mount namespace: %v\n", err)
		return exitFail
	}
	return exitOK
}
