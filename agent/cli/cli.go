// Package cli is ecssnap's command line: flag parsing, wiring of the
// libraries from the configuration, human and JSON rendering, exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	if prog == "snapshot-now" {
		rest = snapshotNowArgs(rest)
	}
	root := newRootCmd(&runner{env: env})
	if len(rest) > 0 && rest[0] == finishCommand {
		root, rest = newFinishCmd(&runner{env: env}), rest[1:]
	}
	root.SetArgs(rest)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	if env.Stdin != nil {
		root.SetIn(env.Stdin)
	}
	err := root.ExecuteContext(ctx)
	var (
		he *hookExit
		ue *usageError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &he):
		return he.code
	case errors.As(err, &ue) && ue.quiet:
		return ExitUsage
	}
	// A job cut short by SIGINT/SIGTERM says so (exit 130/143).
	return fail(env.Stderr, asInterrupted(ctx, err))
}

// snapshotNowArgs turns snapshot-now's arguments into ecssnap's: `now`
// first, except for the shell completion's requests, which name the
// command after cobra's hidden one.
func snapshotNowArgs(args []string) []string {
	if len(args) > 0 && strings.HasPrefix(args[0], "__complete") {
		return append([]string{args[0], "now"}, args[1:]...)
	}
	return append([]string{"now"}, args...)
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

// usageError is a bad command line; exit 64. A quiet one has been
// explained already (the usage was printed).
type usageError struct {
	msg   string
	quiet bool
}

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}
