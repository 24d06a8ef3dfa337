package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ecssnap/ecssnap/agent/hook"
	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
)

// newHookCmd is `ecssnap hook`: its arguments are the package manager's,
// passed on untouched.
func newHookCmd(r *runner) *cobra.Command {
	return &cobra.Command{
		Use:                "hook MANAGER [ARGS]",
		Short:              "package-manager entry point: apt, dnf, dnf5, yum, zypper, pacman",
		DisableFlagParsing: true,
		ValidArgs:          hook.Managers,
		RunE:               r.with(runHook),
	}
}

// runHook is `ecssnap hook <manager> [args]`, the entry point of the
// package-manager hook files. Its exit code is the package manager's
// verdict, so it leaves through hookExit instead of an error.
func runHook(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(a.env.Stdout, "usage: ecssnap hook %s [ARGS]\n\n", strings.Join(hook.Managers, "|"))
		fmt.Fprintln(a.env.Stdout, "Called by the package managers' hook files before a transaction; not for typing.")
		fmt.Fprintln(a.env.Stdout, "ECSSNAP_SKIP=1 skips the snapshot; package_hooks in the configuration sets the policy.")
		if len(args) == 0 {
			return usagef("hook: name the package manager")
		}
		return nil
	}
	stdin := a.env.Stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	env := hook.Env{
		Getenv: a.env.Getenv,
		// Only zypper's frame protocol writes to stdout: dnf5 reads an
		// action's stdout as commands.
		Stdout: a.env.Stdout, Stderr: a.env.Stderr,
		Root: a.cfg.Root, Policy: a.cfg.PackageHooks,
	}
	code := hook.Run(ctx, args[0], args[1:], stdin, env, a.submitHook)
	if code != 0 {
		return &hookExit{code: code}
	}
	return nil
}

// submitHook is the hooks' Submitter: the request runs through the daemon
// when it answers, otherwise in this process, and returns once every
// snapshot is created (or completed, if the policy says so).
func (a *app) submitHook(ctx context.Context, req job.Request, session, cmdline string) (*job.Result, bool, error) {
	if req.Consistency == job.LevelDefault && a.cfg.Consistency != "" {
		level, err := job.ParseLevel(a.cfg.Consistency)
		if err != nil {
			return nil, false, err
		}
		req.Consistency = level
	}
	if req.RetentionDays == 0 {
		req.RetentionDays = a.cfg.Retention.RetentionDays(req.Trigger, false)
	}
	// Progress lines only when the hook waits for completion; they go to
	// stderr, never to stdout (zypper's protocol, dnf5's commands).
	events := io.Discard
	if req.Wait {
		events = a.env.Stderr
	}
	out := newRenderer(Env{Stdout: events, Stderr: a.env.Stderr, Getenv: a.env.Getenv, Now: a.env.Now}, false, req.Wait)
	var joined bool
	res, err := a.runJob(ctx, req, jobOptions{session: session, cmdline: cmdline, joined: &joined}, out)
	if err != nil {
		err = &hookJobError{err: err, class: hookClass(err)}
	}
	return res, joined, err
}

// hookClass is the job class the hook decides by. A transport error
// reaching the ECS API (after the retry budget) counts as unreachable,
// like the metadata service being down: the hook can do nothing about
// either.
func hookClass(err error) string {
	var remote *remoteJobError
	if errors.As(err, &remote) {
		return remote.class
	}
	if cloud.KindOf(err) == cloud.KindTransport {
		return job.ClassUnavailable
	}
	var gone *daemonGoneError
	if errors.Is(err, localapi.ErrDaemonNotRunning) || errors.As(err, &gone) {
		// A daemon that went away mid-request is as unreachable as one
		// that was never there; its message says whether it recorded the
		// job.
		return job.ClassUnavailable
	}
	if errors.Is(err, localapi.ErrBusy) {
		return job.ClassTemporary // the daemon's queue is full
	}
	return job.Classify(err)
}

// hookJobError carries an error's class to the hook.
type hookJobError struct {
	err   error
	class string
}

func (e *hookJobError) Error() string      { return e.err.Error() }
func (e *hookJobError) Unwrap() error      { return e.err }
func (e *hookJobError) ErrorClass() string { return e.class }

// hookExit ends `ecssnap hook` with the package manager's exit code; the
// hook already printed its one line.
type hookExit struct{ code int }

func (e *hookExit) Error() string { return fmt.Sprintf("hook exit %d", e.code) }

// hookWithoutConfig runs the hook when the configuration does not load:
// the default policy decides (interactive runs stop, unattended ones go
// on), and the job's error is the configuration's.
func hookWithoutConfig(ctx context.Context, env Env, args []string, cfgErr error) int {
	if len(args) == 0 {
		return fail(env.Stderr, usagef("hook: name the package manager"))
	}
	stdin := env.Stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	henv := hook.Env{Getenv: env.Getenv, Stdout: env.Stdout, Stderr: env.Stderr, Policy: hook.DefaultPolicy()}
	if root := env.Getenv("ECSSNAP_ROOT"); root != "" {
		henv.Root = root
	}
	submit := func(context.Context, job.Request, string, string) (*job.Result, bool, error) {
		return nil, false, &hookJobError{err: fmt.Errorf("%w (run `ecssnap doctor`)", cfgErr), class: job.ClassConfig}
	}
	return hook.Run(ctx, args[0], args[1:], stdin, henv, submit)
}
