package soak

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"strings"
	"time"
)

// Exit codes of Main.
const (
	ExitPass  = 0
	ExitFail  = 1  // a must-be-zero is not zero, or the soak could not run
	ExitUsage = 64 // bad flags
	ExitSkip  = 77 // not root (and not under CI): the automake convention for a skipped test
)

// Main parses the command line, runs the soak and prints its report.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ecssnap-soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		opts    = Options{Progress: stderr}
		fstypes string
	)
	fs.DurationVar(&opts.Duration, "time", 10*time.Minute, "how long the faults go on, a `DURATION` like 1m")
	fs.StringVar(&opts.Ecssnap, "ecssnap", "bin/ecssnap", "the built ecssnap `BINARY` (make build)")
	fs.StringVar(&fstypes, "fs", "ext4,ext4,xfs", "loop filesystem `TYPES`, one per emulated disk (the third and later: cloud_efficiency, per-disk snapshots)")
	fs.DurationVar(&opts.FreezeDeadline, "freeze-deadline", 3*time.Second, "the daemon's freeze.deadline")
	fs.DurationVar(&opts.FreezeMargin, "freeze-margin", time.Second, "how far past the deadline a freeze may end before it counts")
	fs.DurationVar(&opts.KillEvery[0], "kill-min", 3*time.Second, "shortest interval between daemon kills")
	fs.DurationVar(&opts.KillEvery[1], "kill-max", 12*time.Second, "longest interval between daemon kills")
	fs.Float64Var(&opts.HelperKill, "helper-kill", 0.4, "share of freeze helpers killed, 0..1")
	fs.Float64Var(&opts.WindowKill, "window-kill", 0.15, "share of freeze helper starts that get the daemon killed instead, 0..1")
	fs.Uint64Var(&opts.Seed, "seed", 0, "seed of every random choice (0: a random seed, printed)")
	fs.StringVar(&opts.Dir, "dir", "", "where the scratch directory goes (default: the system temporary directory)")
	fs.BoolVar(&opts.Keep, "keep", false, "keep the scratch directory (logs, job store, images)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitPass
		}
		return ExitUsage
	}
	opts.FSTypes = strings.Split(fstypes, ",")
	if err := opts.validate(fs.NArg()); err != nil {
		fmt.Fprintf(stderr, "ecssnap-soak: %v\n", err)
		return ExitUsage
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(stderr, "ecssnap-soak: CI=true but not root: the soak needs root for loop devices and freezing")
			return ExitFail
		}
		fmt.Fprintln(stderr, "ecssnap-soak: skipped: the soak needs root (loop devices, freezing); run it as root")
		return ExitSkip
	}
	if _, err := os.Stat(opts.Ecssnap); err != nil {
		fmt.Fprintf(stderr, "ecssnap-soak: %v: build it first (make build)\n", err)
		return ExitFail
	}
	if opts.Seed == 0 {
		opts.Seed = mrand.Uint64()>>1 | 1
	}
	rep, err := Run(ctx, opts)
	if rep != nil {
		rep.Print(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ecssnap-soak: %v\n", err)
		return ExitFail
	}
	if !rep.OK() {
		return ExitFail
	}
	return ExitPass
}

func (o *Options) validate(extra int) error {
	switch {
	case extra > 0:
		return errors.New("unexpected arguments; every setting is a flag (see -h)")
	case o.Duration <= 0:
		return errors.New("-time must be positive")
	case o.FreezeDeadline < time.Second || o.FreezeDeadline > time.Minute:
		return errors.New("-freeze-deadline must be between 1s and 1m (ecssnap's own limits)")
	case o.FreezeMargin < 0:
		return errors.New("-freeze-margin must not be negative")
	case o.KillEvery[0] <= 0 || o.KillEvery[1] < o.KillEvery[0]:
		return errors.New("-kill-min must be positive and at most -kill-max")
	case o.HelperKill < 0 || o.WindowKill < 0 || o.HelperKill+o.WindowKill > 1:
		return errors.New("-helper-kill and -window-kill must be at least 0 and add up to at most 1")
	}
	for _, t := range o.FSTypes {
		switch t {
		case "ext4", "xfs", "btrfs", "ext2":
		default:
			return fmt.Errorf("-fs: %q is not one of ext4, xfs, btrfs, ext2", t)
		}
	}
	return nil
}
