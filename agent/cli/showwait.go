package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/store"
)

// defaultShowWait bounds `show --wait` unless --timeout says otherwise:
// a job that does not wait ends a round trip or two after its answer.
const defaultShowWait = 10 * time.Minute

// waitJobEnd waits until job id has ended: the daemon's, or in the store.
// A job that does not wait ends once its bookkeeping (the group's member
// snapshots, their tags, the record) is done, which happens after its
// caller was answered; a fleet tool that reports the member IDs waits for
// it here.
func (a *app) waitJobEnd(ctx context.Context, id string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pause := 10 * time.Millisecond
	last := "unknown"
	for {
		state, err := a.jobState(ctx, id)
		switch {
		case err != nil && ctx.Err() == nil:
			return err
		case err == nil && state == store.StateDone:
			return nil
		case err == nil:
			last = state
		}
		select {
		case <-ctx.Done():
			if in := interruption(ctx); in != nil {
				return &interruptedError{sig: in.Signal, msg: fmt.Sprintf("%s while waiting for job %s to end: follow it with `ecssnap show %s`", in, id, id)}
			}
			return &remoteJobError{class: job.ClassTemporary, msg: fmt.Sprintf("job %s has not ended after %s (state %s): follow it with `ecssnap show %s`", id, timeout, last, id)}
		case <-time.After(pause):
		}
		pause = min(2*pause, 250*time.Millisecond)
	}
}

// jobState is the state of job id: the daemon's word when it runs, else
// the store's. A job left unfinished in the store with nobody holding the
// store (the process finishing it died) is finished here first, as any
// start of ecssnap would, when this user may write the store.
func (a *app) jobState(ctx context.Context, id string) (string, error) {
	v, err := localapi.NewClient(a.cfg.Socket).GetJob(ctx, id)
	if !errors.Is(err, localapi.ErrDaemonNotRunning) {
		if err != nil {
			return "", err
		}
		return v.State, nil
	}
	v, err = a.storedJob(id)
	if err != nil || v.State == store.StateDone {
		return stateOf(v), err
	}
	st, err := store.Open(a.cfg.StateDir, store.Options{Logger: a.logger, Now: a.env.Now})
	switch {
	case errors.Is(err, store.ErrLocked), errors.Is(err, fs.ErrPermission):
		// Someone is finishing it, or only root may.
		return v.State, nil
	case err != nil:
		return "", fmt.Errorf("open the job store: %w", err)
	}
	defer st.Close()
	if err := a.finishUnfinished(ctx, st); err != nil {
		return "", err
	}
	r, err := st.Get(id)
	if err != nil {
		return "", err
	}
	return r.State, nil
}

func stateOf(v *localapi.JobView) string {
	if v == nil {
		return ""
	}
	return v.State
}
