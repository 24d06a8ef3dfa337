package job

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecssnap/ecssnap/pkg/freeze"
	"github.com/ecssnap/ecssnap/pkg/hooks"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// Freezing configures how a job freezes filesystems.
type Freezing struct {
	// Freezer is nil where freezing is impossible (not root, not Linux):
	// the default consistency is then crash.
	Freezer     freeze.Freezer
	Deadline    time.Duration // 0: freeze.DefaultDeadline
	JournalPath string        // "": freeze.DefaultJournalPath
	// Check, when set, says whether this process may freeze (root); it runs
	// in preflight, so planning looks the same to every user.
	Check func() error
}

// HookRunner runs the administrator's hook scripts for a phase.
type HookRunner interface {
	Run(ctx context.Context, phase hooks.Phase, env hooks.Env) hooks.Report
}

// FreezeResult is what the freeze did, for the result and --json.
type FreezeResult struct {
	HeldMS int64 `json:"held_ms"`
	// FreezingMS and ThawingMS are the parts of HeldMS spent in the
	// FIFREEZE and FITHAW calls; the rest is the create calls.
	FreezingMS float64        `json:"freezing_ms"`
	ThawingMS  float64        `json:"thawing_ms"`
	DeadlineMS int64          `json:"deadline_ms"`
	Frozen     []string       `json:"frozen"`
	Skipped    []SkippedMount `json:"skipped,omitempty"`
	// ThawReason is the helper's: request, deadline, signal:NAME,
	// parent-gone, protocol-error; or helper-gone when it ended without
	// a report (the guard thawed).
	ThawReason string `json:"thaw_reason,omitempty"`
	// ThawedEarly: the window ended other than by the job's thaw request,
	// so the creates answered after that instant are crash-consistent.
	ThawedEarly bool   `json:"thawed_early,omitempty"`
	Error       string `json:"error,omitempty"`
}

// SkippedMount is a filesystem that was not frozen, and why.
type SkippedMount struct {
	MountPoint string `json:"mount_point"`
	Reason     string `json:"reason"`
}

// levels resolves the request's desired and required levels: the default
// is fs where freezing is possible, and the desired level is never below
// the required one.
func (r *run) levels() (desired, required Level) {
	desired, required = r.req.Consistency, r.req.Require
	if required == LevelDefault {
		required = LevelCrash
	}
	if desired == LevelDefault {
		desired = LevelCrash
		if r.e.Freezing.Freezer != nil {
			desired = LevelFS
		}
	}
	return max(desired, required), required
}

// ceiling is the best level the plan can reach, and why not better.
func (r *run) ceiling(p *plan.Plan, desired Level) (Level, string) {
	switch {
	case desired == LevelCrash:
		return LevelCrash, "crash consistency was asked for"
	case r.e.Freezing.Freezer == nil:
		return LevelCrash, "freezing is not possible here (it needs root on Linux)"
	case !p.LocalKnown:
		return LevelCrash, "the local disk layout could not be read"
	case len(p.Unmapped) > 0:
		return LevelCrash, "no local device found for " + strings.Join(p.Unmapped, ", ")
	case p.Inconsistent:
		return LevelCrash, "a filesystem spanning disks is captured inconsistently (--allow-inconsistent)"
	}
	for _, s := range p.FreezeSkipped {
		if !s.ReadOnly {
			return LevelCrash, fmt.Sprintf("%s cannot be frozen (%s)", s.MountPoint, s.Reason)
		}
	}
	if desired == LevelApp {
		return LevelApp, ""
	}
	return LevelFS, ""
}

// preflight does everything slow before anything is frozen, and refuses
// early what would fail anyway.
func (r *run) preflight(ctx context.Context, p *plan.Plan) error {
	if len(p.FreezeSet) > 0 && r.e.Freezing.Check != nil {
		if err := r.e.Freezing.Check(); err != nil {
			return err
		}
	}
	conns := 1
	if len(p.FreezeSet) > 0 {
		// One warm connection per parallel create, so none is opened
		// (with DNS and a TLS handshake) inside the freeze window.
		conns = len(p.PerDisk)
		if len(p.Group) > 0 {
			conns++
		}
	}
	progressing, err := r.preflightCalls(ctx, p, conns)
	if err != nil {
		return err
	}
	busy := busyOf(p, progressing)
	if len(busy) == 0 {
		return nil
	}
	// A create now would be refused. A caller who waits for the job waits
	// for the snapshot in the way too, within the job's timeout, then
	// preflight runs again (the connections it warmed may have gone cold).
	if !r.req.Wait {
		return &BusyDiskError{Busy: busy}
	}
	start := r.e.Now()
	if r.blockedUntil.IsZero() {
		r.blockedUntil = start.Add(r.timeout())
	}
	wctx, cancel := context.WithDeadline(ctx, r.blockedUntil)
	busy, err = r.waitForBusy(wctx, busy)
	cancel()
	r.res.Timings.BlockedMS += r.since(start)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		return &BusyDiskError{Busy: busy, Waited: time.Duration(r.res.Timings.BlockedMS) * time.Millisecond}
	case err != nil:
		return fmt.Errorf("preflight: follow the snapshot in the way: %w", err)
	}
	return r.preflight(ctx, p)
}

// window runs pre-freeze hooks, freezes, creates, thaws and runs post-thaw
// hooks. It gives each snapshot created the level it was taken at (see
// assignLevels) and returns why the job's level is below the ceiling.
func (r *run) window(ctx context.Context, p *plan.Plan, ceiling Level, why string) (string, error) {
	level := ceiling
	env := r.hookEnv(p)
	if r.e.Hooks != nil && ceiling >= LevelFS {
		rep := r.e.Hooks.Run(ctx, hooks.PreFreeze, env)
		r.res.Hooks = append(r.res.Hooks, rep)
		// post-thaw always runs once pre-freeze has, whatever happens next.
		defer func() {
			r.res.Hooks = append(r.res.Hooks, r.e.Hooks.Run(context.WithoutCancel(ctx), hooks.PostThaw, env))
		}()
		if err := rep.Err(); err != nil {
			level, why = min(level, LevelFS), err.Error()
		} else if len(rep.Results) == 0 && level == LevelApp {
			level, why = LevelFS, "no pre-freeze hook scripts are installed"
		}
	} else if level == LevelApp {
		level, why = LevelFS, "no pre-freeze hook scripts are installed"
	}
	frozen := ceiling >= LevelFS && len(p.FreezeSet) > 0
	if ceiling >= LevelFS && !frozen {
		level, why = LevelCrash, "no filesystem on the selected disks can be frozen"
	}
	// Everything the creates need is fixed and on disk before the freeze.
	r.res.Consistency = level.String()
	r.prepareCreates(p)
	if err := r.record(RecordRunning); err != nil {
		return why, err
	}
	if !frozen {
		err := r.create(ctx)
		r.assignLevels(level, nil)
		return why, err
	}

	session, err := r.e.Freezing.Freezer.Prepare(ctx, p.FreezeSet, freeze.SessionOptions{
		Deadline: r.e.Freezing.Deadline, JobID: r.res.JobID, JournalPath: r.e.Freezing.JournalPath,
		Logger: r.e.Logger, Now: r.e.Now,
	})
	if err != nil {
		return "", fmt.Errorf("prepare the freeze: %w", err)
	}
	defer session.Close()

	r.holdEvents()
	freezeSent := r.e.Now()
	frep, ferr := session.Freeze(ctx)
	if ferr != nil {
		// Something did not freeze: thaw at once and create nothing.
		thawSent := r.e.Now()
		trep, _ := session.Thaw(context.WithoutCancel(ctx))
		r.releaseEvents()
		r.recordFreeze(trep, ferr, proveFrozen(freezeSent, thawSent, trep))
		return "", fmt.Errorf("freeze: %w", ferr)
	}
	cerr := r.create(ctx)
	thawSent := r.e.Now()
	trep, terr := session.Thaw(context.WithoutCancel(ctx))
	r.releaseEvents()
	if len(trep.Mounts) == 0 {
		trep = frep
	}
	// What counts is what was true when each create was answered: a
	// snapshot is fs (or app) only if the window provably held over its
	// whole create call.
	proof := proveFrozen(freezeSent, thawSent, trep)
	r.recordFreeze(trep, terr, proof)
	if lowered := r.assignLevels(level, func(i int) bool { return proof.covers(r.answeredAt(i)) }); len(lowered) > 0 {
		why = loweredWhy(proof, lowered)
	}
	if terr != nil {
		r.e.Logger.Warn("thaw reported an error", "error", terr)
	}
	return why, cerr
}

func (r *run) recordFreeze(rep freeze.Report, err error, proof frozenProof) {
	fr := &FreezeResult{
		HeldMS:     rep.Held.Milliseconds(),
		DeadlineMS: r.e.Freezing.Deadline.Milliseconds(),
		ThawReason: rep.ThawReason,
		Frozen:     rep.Frozen(),
	}
	if fr.DeadlineMS == 0 {
		fr.DeadlineMS = freeze.DefaultDeadline.Milliseconds()
	}
	fr.ThawedEarly = proof.early
	if fr.ThawReason == "" && proof.early {
		fr.ThawReason = ThawReasonHelperGone
	}
	fr.FreezingMS, fr.ThawingMS = opsSpan(rep.Ops, "freeze"), opsSpan(rep.Ops, "thaw")
	for _, m := range rep.Mounts {
		if m.Status != freeze.StatusFrozen {
			fr.Skipped = append(fr.Skipped, SkippedMount{MountPoint: m.Target.MountPoint, Reason: statusReason(m)})
		}
	}
	if err != nil {
		fr.Error = err.Error()
	}
	r.res.Freeze = fr
	r.res.Timings.FrozenMS = fr.HeldMS
}

func statusReason(m freeze.MountResult) string {
	switch m.Status {
	case freeze.StatusAlreadyFrozenByOther:
		return "already frozen by someone else; left as it was"
	case freeze.StatusNotSupported:
		return "this filesystem cannot be frozen"
	}
	if m.Reason != "" {
		return m.Reason
	}
	return string(m.Status)
}

func (r *run) hookEnv(p *plan.Plan) hooks.Env {
	env := hooks.Env{Job: r.res.JobID, Trigger: r.res.Trigger, Disks: p.Selected()}
	for _, t := range p.FreezeSet {
		env.Mounts = append(env.Mounts, t.MountPoint)
	}
	return env
}

// holdEvents queues events instead of delivering them: while filesystems
// are frozen, a consumer writing to a file there would block the job.
func (r *run) holdEvents() {
	r.evMu.Lock()
	r.holding = true
	r.evMu.Unlock()
}

func (r *run) releaseEvents() {
	r.evMu.Lock()
	held := r.held
	r.held, r.holding = nil, false
	r.evMu.Unlock()
	for _, ev := range held {
		r.e.Emit(ev)
	}
}

// opsSpan is the milliseconds from the first start to the last end of the
// ioctls of one kind.
func opsSpan(ops []freeze.Op, kind string) float64 {
	var first, last time.Duration
	seen := false
	for _, op := range ops {
		if op.Kind != kind {
			continue
		}
		if !seen || op.Start < first {
			first = op.Start
		}
		last = max(last, op.End)
		seen = true
	}
	if !seen {
		return 0
	}
	return float64(last-first) / float64(time.Millisecond)
}
