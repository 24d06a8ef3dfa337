package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/store"
)

// backend serves the local API from the job queue and the store.
type backend struct {
	jobs    *Jobs
	store   *store.Store
	version string
	started time.Time
	metrics *metrics
}

var _ localapi.Backend = (*backend)(nil)

// CreateJob queues or joins the request and waits as it asks.
func (b *backend) CreateJob(ctx context.Context, req localapi.CreateJobRequest, caller localapi.Caller) (*localapi.JobView, error) {
	e, joined, err := b.jobs.Submit(req, caller)
	var (
		busy *BusyError
		bad  *RequestError
	)
	switch {
	case errors.As(err, &busy):
		return nil, localapi.NewError(http.StatusTooManyRequests, localapi.CodeBusy, "%v", err)
	case errors.As(err, &bad):
		return nil, localapi.NewError(http.StatusBadRequest, localapi.CodeBadRequest, "%v", err)
	case err != nil:
		return nil, err
	}
	var until <-chan struct{}
	switch req.Wait {
	case localapi.WaitCreated:
		until = e.created
	case localapi.WaitCompleted:
		until = e.done
	}
	if req.Wait == localapi.WaitCompleted {
		defer b.jobs.follow(e)()
	}
	if until != nil {
		select {
		case <-until:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	v := b.view(e)
	v.Joined = joined
	return v, nil
}

// view renders an in-memory entry under the queue's lock.
func (b *backend) view(e *Job) *localapi.JobView {
	b.jobs.mu.Lock()
	defer b.jobs.mu.Unlock()
	return RecordView(e.rec)
}

// RecordView shows a stored job the way the API does.
func RecordView(r *store.Record) *localapi.JobView {
	var joined []localapi.Joiner
	for _, j := range r.Joined {
		joined = append(joined, localapi.Joiner{Time: j.Time, Trigger: j.Trigger, Session: j.Session,
			Caller: localapi.Caller{UID: j.Caller.UID, GID: j.Caller.GID, PID: j.Caller.PID, Cmdline: j.Caller.Cmdline}})
	}
	return &localapi.JobView{
		JoinedBy: joined, JoinedCount: r.JoinedCount,
		ID: r.ID, State: r.State, Trigger: r.Request.Trigger, Reason: r.Request.Reason, Session: r.Session,
		Packages: r.Request.Packages,
		Created:  r.Created, Updated: r.Updated, Result: r.Result, Error: r.Error,
		Caller: &localapi.Caller{UID: r.Caller.UID, GID: r.Caller.GID, PID: r.Caller.PID, Cmdline: r.Caller.Cmdline},
	}
}

func (b *backend) ListJobs(_ context.Context, limit int) ([]*localapi.JobView, error) {
	if limit <= 0 {
		limit = 50
	}
	recs, err := b.store.List(store.ListOptions{Limit: limit})
	if err != nil {
		return nil, err
	}
	out := b.jobs.unrecordedViews()
	for _, r := range recs {
		out = append(out, RecordView(r))
	}
	// Newest first, as the store lists them.
	slices.SortStableFunc(out, func(a, b *localapi.JobView) int { return b.Created.Compare(a.Created) })
	return out[:min(len(out), limit)], nil
}

func (b *backend) GetJob(_ context.Context, id string) (*localapi.JobView, error) {
	if e := b.jobs.find(id); e != nil {
		return b.view(e), nil
	}
	r, err := b.store.Get(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("job %s: %w", id, localapi.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return RecordView(r), nil
}

// Events replays the job's events so far, then streams the rest until the
// job ends. A job only in the store has ended: its stream is empty.
func (b *backend) Events(ctx context.Context, id string) (<-chan job.Event, error) {
	e := b.jobs.find(id)
	if e == nil {
		if _, err := b.GetJob(ctx, id); err != nil {
			return nil, err
		}
		ch := make(chan job.Event)
		close(ch)
		return ch, nil
	}
	past, live := b.jobs.Subscribe(e)
	unfollow := b.jobs.follow(e)
	out := make(chan job.Event, len(past)+1)
	go func() {
		defer close(out)
		defer unfollow()
		for _, ev := range past {
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
		// Watch ctx while no event comes too: a caller that left must
		// stop counting as a follower at once, not at the next event.
		for {
			select {
			case ev, ok := <-live:
				if !ok {
					return
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func (b *backend) Plan(ctx context.Context, req localapi.PlanRequest) (json.RawMessage, error) {
	eng := b.jobs.newEngine(nil)
	res, err := eng.Run(ctx, job.Request{Disks: req.Disks, Mounts: req.Mounts, AllowInconsistent: req.AllowInconsistent,
		Trigger: "plan", DryRun: true})
	if err != nil {
		return nil, err
	}
	return json.Marshal(res)
}

func (b *backend) Disks(ctx context.Context) (json.RawMessage, error) {
	inv, err := b.jobs.newEngine(nil).Inventory(ctx)
	if err != nil {
		return nil, err
	}
	return json.Marshal(inv)
}

func (b *backend) Health(context.Context) localapi.Health {
	running, queued := b.jobs.status()
	return localapi.Health{Status: "ok", Version: b.version, PID: os.Getpid(), Started: b.started,
		RunningJob: running, Queued: queued}
}

func (b *backend) Metrics(w io.Writer) error {
	return b.metrics.write(w, b.jobs)
}
