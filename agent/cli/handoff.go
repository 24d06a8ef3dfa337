package cli

import (
	"context"

	"github.com/ecssnap/ecssnap/agent/daemon"
	"github.com/ecssnap/ecssnap/pkg/store"
)

// finishCommand is the hidden command an in-process job that does not
// wait starts, detached, to finish its bookkeeping once its caller has
// its answer: the group's member snapshots, their tags, tag corrections,
// post-complete hooks and the record. It resumes every job left created
// in the store, as any start of ecssnap would.
const finishCommand = "finish-handed-off"

// runFinish waits for the store (the job's own process holds it until it
// exits) and finishes every unfinished job in it.
func runFinish(ctx context.Context, a *app, _ []string) error {
	st, err := a.openStore(ctx, false)
	if err != nil || st == nil {
		return err
	}
	defer st.Close()
	if err := a.finishUnfinished(ctx, st); err != nil {
		return err
	}
	if _, err := st.Retain(store.Retention{Keep: a.cfg.JobRecords.Keep, MaxAge: a.cfg.JobRecords.MaxAge}); err != nil {
		a.logger.Warn("could not remove old job records", "error", err)
	}
	return nil
}

// finishUnfinished finishes every job left unfinished in st, whose lock
// this process holds.
func (a *app) finishUnfinished(ctx context.Context, st *store.Store) error {
	jobs := daemon.NewJobs(daemon.JobsOptions{Engine: a.engine, Store: st, Logger: a.logger, Now: a.env.Now, Window: a.cfg.CoalesceWindow})
	if err := jobs.Reconcile(); err != nil {
		return err
	}
	jobs.Drain(ctx)
	return nil
}
