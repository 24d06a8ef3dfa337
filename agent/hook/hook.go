package hook

import (
	"context"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// Env is the hook's outside world.
type Env struct {
	Getenv         func(string) string
	Stdout, Stderr io.Writer
	// Root is "/" or a test tree: /proc and the container markers are read
	// under it.
	Root   string
	Policy Policy
}

// Submitter runs a job request: through the daemon when it answers,
// otherwise in process. session is the coalescing key, cmdline the
// package-manager command line the request claims to come from. joined
// reports that the request joined a job already asked for (same session).
// A failed job returns its result (with Error and ErrorClass) when there
// is one; an error may say its class with an ErrorClass() string method,
// job.ClassUnavailable meaning that neither the daemon nor the cloud could
// be reached.
type Submitter func(ctx context.Context, req job.Request, session, cmdline string) (res *job.Result, joined bool, err error)

// Exit codes of Run.
const (
	ExitGoOn  = 0  // the transaction may go on
	ExitStop  = 1  // fail-closed: stop the transaction
	ExitUsage = 64 // an unknown package manager or bad arguments
)

// Managers are the package managers Run knows.
var Managers = []string{"apt", "dnf", "dnf5", "yum", "zypper", "pacman"}

// Run is `ecssnap hook <manager> [args]`: it reads what the package
// manager passes, asks submit for a snapshot, and returns the exit code
// the package manager acts on.
func Run(ctx context.Context, manager string, args []string, in io.Reader, env Env, submit Submitter) int {
	h := newHook(env, submit)
	switch manager {
	case "apt":
		return h.apt(ctx, args, in)
	case "dnf", "yum":
		return h.plugin(ctx, manager, args, in)
	case "dnf5":
		return h.dnf5(ctx, args)
	case "zypper":
		return h.zypper(ctx, args, in)
	case "pacman":
		return h.pacman(ctx, args, in)
	}
	h.say("ecssnap hook: unknown package manager %q (want one of apt, dnf, dnf5, yum, zypper, pacman)", manager)
	return ExitUsage
}

// hook is one run of Run.
type hook struct {
	env    Env
	submit Submitter
	proc   procFS
}

func newHook(env Env, submit Submitter) *hook {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.Root == "" {
		env.Root = "/"
	}
	return &hook{env: env, submit: submit, proc: procFS{root: env.Root}}
}

// say prints one line on stderr.
func (h *hook) say(format string, args ...any) {
	fmt.Fprintf(h.env.Stderr, format+"\n", args...)
}

// noArgs refuses arguments an entry point does not take.
func (h *hook) noArgs(manager string, args []string) bool {
	if len(args) == 0 {
		return true
	}
	h.say("ecssnap hook %s: unexpected arguments %q", manager, args)
	return false
}

// transaction is what a package manager is about to do.
type transaction struct {
	manager string // apt, dnf, dnf5, ...: for messages
	trigger string // the job's trigger
	cmdline string // the command as typed, when the package manager said
	pid     int    // the frontend's pid, when the package manager said
	changes []Change
	// installRoot is the other tree the transaction changes (dnf's and
	// yum's --installroot), "" for this system's own root.
	installRoot string
	// unknown means the package list could not be read (or the package
	// manager does not pass one): snapshot anyway.
	unknown bool
}

// request is the job the hook asks for.
func (h *hook) request(tx transaction, cmdline string) job.Request {
	req := job.Request{
		Reason: reason(cmdline, tx.changes), Trigger: tx.trigger, Disks: plan.Selection{Kind: "all"},
		Require: job.LevelCrash, Wait: h.env.Policy.WaitCompleted,
	}
	if len(tx.changes) > 0 {
		req.Tags = []cloud.Tag{{Key: TagPackages, Value: job.TagValue(summaryTag(tx.changes))}}
	}
	for i, c := range tx.changes {
		if i == localapi.MaxPackages-1 && len(tx.changes) > localapi.MaxPackages {
			req.Packages = append(req.Packages, fmt.Sprintf("and %d more", len(tx.changes)-i))
			break
		}
		req.Packages = append(req.Packages, cutRunes(c.String(), localapi.MaxPackageLine/utf8.UTFMax))
	}
	if req.Reason == "" {
		req.Reason = "before a " + tx.manager + " transaction"
	}
	return req
}
