package daemon

import (
	"context"
	"errors"
	"time"
)

// defaultRetentionIdle is how long the queue stays idle after a successful
// job before retention runs: long enough that the next job of a burst (a
// package manager's next transaction, a script's next snapshot) does not
// find retention's API calls in its way, short enough that retention
// follows the job it is owed to.
const defaultRetentionIdle = 2 * time.Second

// errJobArrived ends a retention run when a job is queued: the job goes
// first, and retention runs again once the queue is idle.
var errJobArrived = errors.New("a job was queued")

// retentionState is the worker's retention owed after successful jobs.
type retentionState struct {
	pending bool                    // a successful job ran since the last complete retention run
	cancel  context.CancelCauseFunc // ends the running retention; nil when none runs
}

// retentionTimer returns a channel that fires once the queue has been idle
// for afterSuccessIdle while retention is owed, and a func that stops it;
// nil (never fires) when nothing is owed, so an idle daemon is not woken.
func (j *Jobs) retentionTimer() (<-chan time.Time, func()) {
	j.mu.Lock()
	owed := j.retention.pending && j.afterSuccess != nil
	j.mu.Unlock()
	if !owed {
		return nil, func() {}
	}
	idle := j.afterSuccessIdle
	if idle <= 0 {
		idle = defaultRetentionIdle
	}
	t := time.NewTimer(idle)
	return t.C, func() { t.Stop() }
}

// runRetention runs the retention owed, in the worker (so never beside a
// job's creates) unless a job was queued meanwhile. A job queued while it
// runs ends it (deferRetention) and runs first; retention stays owed. Its
// deletions are idempotent: a run cut short leaves nothing half done that
// the next run does not finish.
func (j *Jobs) runRetention(ctx context.Context) {
	j.mu.Lock()
	if len(j.queue) > 0 || !j.retention.pending {
		j.mu.Unlock()
		return
	}
	rctx, cancel := context.WithCancelCause(ctx)
	j.retention.pending, j.retention.cancel = false, cancel
	j.mu.Unlock()
	j.afterSuccess(rctx)
	j.mu.Lock()
	if errors.Is(context.Cause(rctx), errJobArrived) {
		j.retention.pending = true
		j.log.Info("retention deferred: a job was queued")
	}
	j.retention.cancel = nil
	j.mu.Unlock()
	cancel(nil)
}

// deferRetention ends a running retention run for a job just queued.
// Callers hold j.mu.
func (j *Jobs) deferRetention() {
	if j.retention.cancel != nil {
		j.retention.cancel(errJobArrived)
	}
}

// oweRetention has the worker run retention once the queue is idle, as
// after a successful job: the daily run, which must not run beside a
// job's creates either.
func (j *Jobs) oweRetention() {
	j.mu.Lock()
	j.retention.pending = true
	j.mu.Unlock()
	j.signal()
}
