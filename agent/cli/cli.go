// Package cli is ecssnap's command line: flag parsing, wiring of the
// libraries from the configuration, human and JSON rendering, exit codes.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ecssnap/ecssnap/agent/config"
	"github.com/ecssnap/ecssnap/pkg/imds"
)

// Version is stamped at build time (-ldflags -X).
var Version = "0.0.0-dev"

// Exit codes (DESIGN, "Command line").
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitDegraded    = 2
	ExitUsage       = 64
	ExitUnavailable = 69
	ExitTemporary   = 75
	ExitPermission  = 77
	ExitConfig      = 78
)

// Env is the process's outside world, injected so tests run the CLI in
// process.
type Env struct {
	// Stdin is read by `ecssnap hook` only (the package manager's input).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// IsTerminal reports whether Stdout is a terminal (progress bars).
	IsTerminal bool
	Now        func() time.Time
	// Self is this program's executable, which an in-process job that does
	// not wait starts again to finish its bookkeeping (see handoff.go);
	// empty, such a job finishes it before it returns.
	Self string
}

// OSEnv returns the real process environment.
func OSEnv() Env {
	self, _ := os.Executable()
	return Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
		IsTerminal: isTerminal(os.Stdout), Now: time.Now, Self: self,
	}
}

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, a *app, args []string) error
}

var commands = map[string]command{
	"now":      {"take snapshots now (snapshot-now is the same)", runNow},
	"plan":     {"show what `now` would do, and why", runPlan},
	"disks":    {"list the instance's cloud disks", runDisks},
	"list":     {"list recorded jobs (--snapshots: the managed snapshots in the cloud)", runList},
	"show":     {"show one job", runShow},
	"prune":    {"apply retention to the managed snapshots", runPrune},
	"doctor":   {"check metadata, credentials, RAM permissions, disks, quotas, freezing, hooks, daemon", runDoctor},
	"status":   {"the daemon and the latest job", runStatus},
	"selftest": {"freeze and thaw throwaway loop filesystems: what this kernel supports", runSelftest},
	"daemon":   {"run as the service (systemd starts it)", runDaemon},
	"service":  {"install|uninstall|start|stop|restart|status the service", runService},
	"hook":     {"package-manager entry point: apt, dnf, dnf5, yum, zypper, pacman", runHook},
	"rollback": {"from outside the instance: stop it, reset its disks to a job, start it", runRollback},
	"image":    {"a custom image from a job's snapshots", runImage},
	"mount":    {"a job's point in time, read-only, beside the running system", runMount},
	"unmount":  {"undo `ecssnap mount`: unmount, detach and delete its disks", runUnmount},
	"mounts":   {"list the restores mounted with `ecssnap mount`", runMounts},
}

// app is one invocation's wiring.
type app struct {
	env    Env
	cfg    config.Config
	logger *slog.Logger

	// md is the metadata client, made once so that its cache of the
	// instance's identity lasts as long as the process (see metadata).
	mdOnce sync.Once
	md     *imds.Client

	// keep makes every engine share one cloud client per region (the
	// daemon's), whose connection stays warm between jobs.
	keep keptClouds
}

// Run executes the command line args (args[0] is the program name: invoked
// as snapshot-now it behaves as `ecssnap now`) and returns the exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	prog, rest := "ecssnap", []string(nil)
	if len(args) > 0 {
		prog, rest = filepath.Base(args[0]), args[1:]
	}
	name := ""
	if prog == "snapshot-now" {
		name = "now"
	} else {
		if len(rest) == 0 {
			usage(env.Stderr)
			return ExitUsage
		}
		name, rest = rest[0], rest[1:]
	}
	switch name {
	case "-h", "--help", "help":
		usage(env.Stdout)
		return ExitOK
	case "--version", "version":
		fmt.Fprintf(env.Stdout, "ecssnap %s\n", Version)
		return ExitOK
	}
	cmd, ok := commands[name]
	if name == finishCommand {
		cmd, ok = command{run: runFinish}, true // not listed: ecssnap runs it itself
	}
	if !ok {
		fmt.Fprintf(env.Stderr, "ecssnap: unknown command %q: see `ecssnap help`\n", name)
		return ExitUsage
	}
	cfg, err := config.Load(env.Getenv)
	if err != nil {
		if name == "hook" {
			// A package manager must hear the policy's verdict, not exit 78.
			return hookWithoutConfig(ctx, env, rest, err)
		}
		return fail(env.Stderr, err)
	}
	a := &app{env: env, cfg: cfg, logger: newLogger(env.Stderr, env.Getenv("ECSSNAP_LOG_LEVEL"))}
	a.recoverFreeze(ctx)
	if name != "hook" && name != "rollback" && name != "image" {
		// A restore mount a crash interrupted leaves disks that cost
		// money: every start finishes cleaning them up (hooks must stay
		// fast, and rollback and image run from anywhere).
		a.recoverRestores(ctx)
	}
	if err := cmd.run(ctx, a, rest); err != nil {
		var he *hookExit
		if errors.As(err, &he) {
			return he.code
		}
		return fail(env.Stderr, asInterrupted(ctx, err))
	}
	return ExitOK
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ecssnap COMMAND [flags]   (snapshot-now = ecssnap now)")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun `ecssnap COMMAND -h` for a command's flags.")
}

// newLogger writes warnings and errors (or the level ECSSNAP_LOG_LEVEL
// names) to stderr as text, which reads well in a terminal and in journald.
func newLogger(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil || level == "" {
		lv = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv}))
}

// usageError is a bad command line; exit 64.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// newFlags returns a flag set that reports errors as usage errors instead
// of exiting, and prints its help to stdout on -h.
func newFlags(a *app, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(a.env.Stdout, "usage: ecssnap %s %s\n\nflags:\n", name, synopsis)
		printFlags(a.env.Stdout, fs)
	}
	return fs
}

// printFlags lists flags GNU style (--name), as users type them.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		if arg != "" {
			arg = " " + arg
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  --%s%s\t%s%s\n", f.Name, arg, usage, def)
	})
	tw.Flush()
}

// parse parses args; -h prints help and ends the command successfully.
func parse(fs *flag.FlagSet, args []string) (help bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil // the flag package already printed the help
		}
		return false, usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return false, usagef("%s: unexpected argument %q", fs.Name(), strings.Join(fs.Args(), " "))
	}
	return false, nil
}
