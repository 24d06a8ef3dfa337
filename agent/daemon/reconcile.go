package daemon

import (
	"fmt"
	"time"

	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/store"
)

// Reconcile queues every job a previous daemon left unfinished, oldest
// first: a job with recorded create calls is resumed (the creates repeated
// with their tokens, or the wait picked up, giving way to any request
// queued behind it), one that never reached its creates runs again from
// the start under its own ID.
func (j *Jobs) Reconcile() error {
	if j.store == nil {
		return nil
	}
	recs, err := j.store.Unfinished()
	if err != nil {
		return fmt.Errorf("list unfinished jobs: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, rec := range recs {
		req, err := rec.Request.Job()
		if err != nil {
			j.log.Error("cannot reconcile a job whose request no longer parses", "job", rec.ID, "error", err)
			continue
		}
		req.JobID = rec.ID
		// Whoever waited for this job's snapshots went away with the
		// process that served them: its wait gives way to any request
		// queued behind it (giveWay); before, a `now --no-wait` after an
		// interrupted `now --wait` polled the earlier job's snapshots.
		e := &Job{rec: rec, req: req, created: make(chan struct{}), done: make(chan struct{}), reconciled: true}
		j.queue = append(j.queue, e)
		j.log.Info("reconciling a job interrupted by a crash or stop", "job", rec.ID, "state", rec.State, "attempts", rec.Attempts)
	}
	if len(recs) > 0 {
		j.signal()
	}
	return nil
}

// RememberFinished reads the jobs finished lately, within the coalescing
// window and joinHorizon, so that requests join them as they would have
// joined them in the process that ran them (see rememberFinished). Only a
// process that may take such a request needs them: each is a file read.
func (j *Jobs) RememberFinished() error {
	if j.store == nil {
		return nil
	}
	finished, err := j.store.List(store.ListOptions{Limit: maxRecent, Since: j.now().Add(-max(joinHorizon, j.window))})
	if err != nil {
		return fmt.Errorf("list recent jobs: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.rememberFinished(finished)
	return nil
}

// joinHorizon bounds how old a finished job RememberFinished keeps may be: a
// request joins a job of its own session (a package manager's run) or
// one inside the coalescing window, rarely one of yesterday, and every
// record remembered is a file read before an in-process job's first call.
const joinHorizon = 24 * time.Hour

// rememberFinished keeps the last finished jobs (recs newest first) as
// recent ones, so that requests join them as they would have in the
// process that ran them (joinable applies the session and the window): a
// daemon started after the CLI ran a hook's job in process, or the next
// in-process hook run, such as unattended-upgrades' next dpkg run without
// the daemon. Callers hold j.mu.
func (j *Jobs) rememberFinished(recs []*store.Record) {
	for i := len(recs) - 1; i >= 0; i-- {
		rec := recs[i]
		if !rec.Finished() || j.findLocked(rec.ID) != nil {
			continue
		}
		req, err := rec.Request.Job()
		if err != nil {
			continue
		}
		req.JobID = rec.ID
		e := &Job{rec: rec, req: req, created: make(chan struct{}), done: make(chan struct{}), failed: failedRecord(rec)}
		close(e.created)
		close(e.done)
		j.recent = append(j.recent, e)
	}
	if len(j.recent) > maxRecent {
		j.recent = j.recent[len(j.recent)-maxRecent:]
	}
}

// failedRecord reports whether a finished job failed in a way that a
// later request should not join: it tries again instead. Degraded and
// timed-out jobs made their snapshots.
func failedRecord(rec *store.Record) bool {
	if rec.Error == "" {
		return false
	}
	switch {
	case rec.Result == nil:
		return true
	case rec.Result.Outcome == "degraded", rec.Result.Outcome == "timed-out", rec.Result.Outcome == "interrupted":
		return false // the snapshots exist
	}
	return true
}

// setEngine swaps the engine factory (after a configuration reload); the
// running job keeps the engine it started with.
func (j *Jobs) setEngine(eng func(emit func(job.Event)) *job.Engine) {
	j.mu.Lock()
	j.engine = eng
	j.mu.Unlock()
	j.inv.invalidate()
}
