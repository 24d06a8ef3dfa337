package daemon

import (
	"fmt"

	"github.com/ecssnap/ecssnap/pkg/job"
)

// Reconcile queues every job a previous daemon left unfinished, oldest
// first: a job with recorded create calls is resumed (the creates repeated
// with their tokens, or the wait picked up), one that never reached its
// creates runs again from the start under its own ID.
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
		e := &Job{rec: rec, req: req, created: make(chan struct{}), done: make(chan struct{})}
		j.queue = append(j.queue, e)
		j.log.Info("reconciling a job interrupted by a crash or stop", "job", rec.ID, "state", rec.State, "attempts", rec.Attempts)
	}
	if len(recs) > 0 {
		j.signal()
	}
	return nil
}

// setEngine swaps the engine factory (after a configuration reload); the
// running job keeps the engine it started with.
func (j *Jobs) setEngine(eng func(emit func(job.Event)) *job.Engine) {
	j.mu.Lock()
	j.engine = eng
	j.mu.Unlock()
}
