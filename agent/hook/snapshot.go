package hook

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ecssnap/ecssnap/pkg/job"
)

// call is a snapshot the hook decided to ask for.
type call struct {
	tx         transaction
	req        job.Request
	session    string
	cmdline    string // the package-manager command, for messages and the job
	unattended string // why the run counts as unattended; "" when interactive
	mode       string // FailClosed or FailOpen
}

// snapshot asks for the snapshot tx calls for and returns the exit code:
// the whole path of every entry point that can stop its transaction.
func (h *hook) snapshot(ctx context.Context, tx transaction) int {
	c, ok := h.prepare(tx)
	if !ok {
		return ExitGoOn
	}
	res, joined, err := h.run(ctx, c)
	return h.verdict(ctx, c, outcome{res: res, joined: joined, err: err}, true)
}

// prepare applies the skips (nothing to do, ECSSNAP_SKIP, chroot,
// container), finds the frontend and builds the request; false means no
// snapshot.
func (h *hook) prepare(tx transaction) (call, bool) {
	if !tx.unknown && len(tx.changes) == 0 {
		return call{}, false
	}
	what := tx.cmdline
	if what == "" {
		what = tx.manager
	}
	if skipRequested(h.env.Getenv(envSkip)) {
		h.say("ecssnap: %s=%s: no snapshot before %s", envSkip, h.env.Getenv(envSkip), what)
		return call{}, false
	}
	if !runs(h.env.Policy.InChroot) {
		// An --installroot transaction is the package manager's own chroot:
		// it changes another tree, like apt run inside one.
		if tx.installRoot != "" {
			h.say("ecssnap: no snapshot before %s: it changes another root, %s (--installroot); package_hooks.in_chroot is skip", what, tx.installRoot)
			return call{}, false
		}
		if yes, why := inChroot(h.env.Root, h.env.Getenv); yes {
			h.say("ecssnap: no snapshot before %s: this is a chroot (%s); package_hooks.in_chroot is skip", what, why)
			return call{}, false
		}
	}
	if !runs(h.env.Policy.InContainer) {
		if yes, why := inContainer(h.env.Root, h.env.Getenv); yes {
			h.say("ecssnap: no snapshot before %s: this is a container (%s); package_hooks.in_container is skip", what, why)
			return call{}, false
		}
	}
	fe := findFrontend(h.proc, tx.pid)
	c := call{tx: tx, session: fe.session(), cmdline: tx.cmdline}
	if c.cmdline == "" {
		c.cmdline = commandLine(fe.argv)
	}
	unattended, why := fe.unattended()
	if v := strings.TrimSpace(h.env.Getenv(envUnattended)); v != "" && v != "0" {
		unattended, why = true, envUnattended+"="+v
	}
	if unattended {
		c.unattended = why
	}
	c.mode = h.env.Policy.ModeFor(tx.trigger, unattended)
	c.req = h.request(tx, c.cmdline)
	return c, true
}

func skipRequested(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes":
		return true
	}
	return false
}

// run submits the request.
func (h *hook) run(ctx context.Context, c call) (*job.Result, bool, error) {
	if h.submit == nil {
		return nil, false, errors.New("ecssnap hook: no way to submit a job (internal error)")
	}
	// The error is the job's and goes into one line as it is.
	return h.submit(ctx, c.req, c.session, c.cmdline)
}

// outcome is what the Submitter said.
type outcome struct {
	res    *job.Result
	joined bool
	err    error
}

// verdict reports the outcome in one line and returns the exit code.
// canStop is false for zypper, whose plugins cannot stop a commit.
func (h *hook) verdict(ctx context.Context, c call, o outcome, canStop bool) int {
	what := c.cmdline
	if what == "" {
		what = c.tx.manager
	}
	res := o.res
	failure := failureText(ctx, res, o.err)
	class := errorClass(res, o.err)
	switch {
	case failure == "" && o.joined:
		h.say("ecssnap: snapshot before %s: already taken, joined (%s)", what, done(res))
		return ExitGoOn
	case failure == "":
		h.say("ecssnap: snapshot before %s: %s", what, done(res))
		return ExitGoOn
	case class == job.ClassDegraded:
		h.say("ecssnap: snapshot before %s: %s, below the desired consistency: %s", what, done(res), failure)
		return ExitGoOn
	case res != nil && res.Outcome == "timed-out":
		h.say("ecssnap: snapshot before %s: %s; waiting for completion timed out, the cloud goes on: %s", what, done(res), failure)
		return ExitGoOn
	case class == job.ClassUnavailable:
		// Whatever the policy: with neither the daemon nor the cloud there
		// is no way to snapshot, and stopping every package change until
		// the network is back would strand a machine that needs a fix.
		h.say("WARNING: ecssnap: NO SNAPSHOT before %s: neither the ecssnap daemon nor the cloud could be reached (%s); %s goes on WITHOUT a snapshot", what, failure, c.tx.manager)
		return ExitGoOn
	case !canStop:
		h.say("WARNING: ecssnap: the snapshot before %s failed: %s; %s plugins cannot stop a commit, so it goes on WITHOUT a snapshot", what, failure, c.tx.manager)
		return ExitGoOn
	case c.mode == FailOpen:
		h.say("WARNING: ecssnap: the snapshot before %s failed: %s; %s goes on WITHOUT a snapshot (package_hooks.policy for %s: fail-open%s)", what, failure, c.tx.manager, c.tx.trigger, attendance(c))
		return ExitGoOn
	}
	h.say("ecssnap: stopped %s before it changed anything: the snapshot failed: %s. To go on without a snapshot this once, run %s; to let %s go on when the snapshot fails, set package_hooks.policy.%s: fail-open in %s",
		c.tx.manager, failure, h.skipOnce(c), c.tx.manager, c.tx.trigger, h.configFile())
	return ExitStop
}

// done describes a finished job: its ID and how many snapshots it made.
func done(res *job.Result) string {
	if res == nil {
		return "done"
	}
	state := "created"
	if res.Waited {
		state = "completed"
	}
	n, noun := res.CreatedCount(), "snapshots"
	if n == 1 {
		noun = "snapshot"
	}
	return fmt.Sprintf("job %s, %d %s %s", res.JobID, n, noun, state)
}

// failureText is what failed, in one line, or "" for success.
func failureText(ctx context.Context, res *job.Result, err error) string {
	var msg string
	switch {
	case err != nil && ctx.Err() != nil:
		msg = "interrupted (" + err.Error() + ")"
	case err != nil:
		msg = err.Error()
	case res != nil:
		msg = res.Error
	}
	return strings.Join(strings.Fields(msg), " ")
}

// errorClass is the job's error class: the result's, the error's own
// (an error with an ErrorClass method), or job.Classify's.
func errorClass(res *job.Result, err error) string {
	if res != nil && res.ErrorClass != "" {
		return res.ErrorClass
	}
	var classed interface{ ErrorClass() string }
	if errors.As(err, &classed) {
		return classed.ErrorClass()
	}
	if err != nil {
		return job.Classify(err)
	}
	return job.ClassFailed
}

func attendance(c call) string {
	if c.unattended == "" {
		return ", interactive"
	}
	return ", unattended: " + c.unattended
}

// skipOnce is the command that repeats the transaction without a
// snapshot.
func (h *hook) skipOnce(c call) string {
	if c.cmdline == "" {
		return "it again with " + envSkip + "=1"
	}
	sudo := ""
	if h.env.Getenv(envSudoUser) != "" {
		sudo = "sudo "
	}
	return "`" + sudo + envSkip + "=1 " + c.cmdline + "`"
}

// configFile names the configuration file the policy lives in.
func (h *hook) configFile() string {
	if p := h.env.Getenv(envConfig); p != "" {
		return p
	}
	return defaultConfigFile
}
