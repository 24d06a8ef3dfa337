package fleet

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

// Exit codes of Main.
const (
	ExitPass  = 0  // every job succeeded, no duplicate
	ExitFail  = 1  // a job failed, a snapshot is duplicated or missing, or the simulation could not run
	ExitUsage = 64 // bad flags
)

// Main runs the simulation the command line asks for, prints the report to
// stdout and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ecssnap-fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// A bad flag gets the flag package's one-line message; -h the help.
	fs.Usage = func() {}
	var (
		cfg      Config
		timeout  time.Duration
		asJSON   bool
		verbose  bool
		progress bool
		memprof  string
	)
	fs.IntVar(&cfg.Agents, "n", DefaultAgents, "number of instances (`AGENTS`), each running one job")
	fs.Float64Var(&cfg.RPS, "rps", DefaultRPS, "the account's API rate limit in calls per second")
	fs.DurationVar(&cfg.Jitter, "jitter", DefaultJitter, "spread of the agents' starts (0 or less: all at once)")
	fs.IntVar(&cfg.DataDisks, "data-disks", 1, "data disks per instance, besides the system disk (0..15)")
	fs.BoolVar(&cfg.Wait, "wait", false, "follow every snapshot to completion (snapshot-now --wait)")
	fs.DurationVar(&cfg.SnapshotTime, "snapshot-time", DefaultSnapshotTime, "how long the emulator takes to complete a snapshot")
	fs.Float64Var(&cfg.Faults.ThrottleRate, "throttle-rate", 0, "also throttle this fraction of calls at random")
	fs.Float64Var(&cfg.Faults.ErrorRate, "error-rate", 0, "answer this fraction of calls with 500 or 503")
	fs.Float64Var(&cfg.Faults.DropRate, "drop-rate", 0, "cut the connection after this fraction of calls took effect")
	fs.DurationVar(&cfg.Retry.Budget, "retry-budget", 0, "how long each agent may retry one call (0: ecssnap's default, 2m; throttled calls 5x as long)")
	fs.Int64Var(&cfg.Seed, "seed", 0, "seed of the emulator and the start jitter (0: random)")
	fs.DurationVar(&timeout, "timeout", 30*time.Minute, "give up on the simulation after this long")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.BoolVar(&verbose, "v", false, "log the agents' and the emulator's warnings to stderr")
	fs.BoolVar(&progress, "progress", true, "print a status line to stderr every 10 s")
	fs.StringVar(&memprof, "memprofile", "", "write a heap profile to `FILE` after the run")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "usage: ecssnap-fleet [-n AGENTS] [-rps RATE] [-jitter DUR] [-wait] [-json] ...\n\n"+
				"Runs AGENTS ecssnap job engines, one per emulated instance, against one emulated\n"+
				"account with an API rate limit, and checks every job and snapshot. Loopback only.\n\n")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return ExitPass
		}
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ecssnap-fleet: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	}
	if cfg.Jitter <= 0 {
		cfg.Jitter = -1 // all at once; Config's zero means the default
	}
	// Config's zero values mean defaults; on the command line they are
	// mistakes.
	err := cfg.withDefaults().validate()
	switch {
	case cfg.Agents < 1:
		err = fmt.Errorf("the fleet needs at least 1 agent, not %d", cfg.Agents)
	case cfg.RPS <= 0:
		err = fmt.Errorf("the rate limit must be positive, not %v", cfg.RPS)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ecssnap-fleet: %v\n", err)
		return ExitUsage
	}
	if verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if progress {
		cfg.Progress = func(s Status) {
			fmt.Fprintf(stderr, "ecssnap-fleet: %3.0fs: %d/%d started, %d finished, %d failed, %d calls sent\n",
				s.Elapsed.Seconds(), s.Started, cfg.Agents, s.Finished, s.Failed, s.Calls)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "ecssnap-fleet: %v\n", err)
		return ExitFail
	}
	if memprof != "" {
		if err := writeHeapProfile(memprof); err != nil {
			fmt.Fprintf(stderr, "ecssnap-fleet: %v\n", err)
			return ExitFail
		}
	}
	write := rep.WriteText
	if asJSON {
		write = rep.WriteJSON
	}
	if err := write(stdout); err != nil {
		fmt.Fprintf(stderr, "ecssnap-fleet: write the report: %v\n", err)
		return ExitFail
	}
	if !rep.OK() {
		return ExitFail
	}
	return ExitPass
}

// writeHeapProfile writes the live heap to path, for finding what a large
// fleet's memory goes to.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}
