package job

import (
	"context"
	"fmt"
	"sync"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// early is the part of preflight that does not depend on the inventory:
// fresh credentials, the endpoint resolved, a connection open, the
// snapshots still running on the instance, and whether every disk surely
// has room under its quota. It runs beside DescribeDisks, so that a job
// costs two round trips before its creates, not three.
type early struct {
	done    chan struct{}
	busy    []cloud.Snapshot
	err     error
	room    bool // every disk surely has room: MakeRoom is not needed
	roomErr error
}

// earlyConns is how many connections the inventory and the early preflight
// leave open (DescribeDisks and the running-snapshots check run at once);
// a freeze window of more parallel creates warms the rest in preflight.
const earlyConns = 2

// startEarly starts the early preflight; preflightCalls collects it.
func (r *run) startEarly(ctx context.Context) *early {
	ea := &early{done: make(chan struct{})}
	// Both calls start at once, beside DescribeDisks: started one from the
	// other, the second went out a millisecond or two later on a small
	// machine, and the job waited for its answer that much longer.
	var wg sync.WaitGroup
	if r.e.QuotaRoom != nil {
		wg.Go(func() { ea.room, ea.roomErr = r.e.QuotaRoom(ctx, r.cloud, r.res.InstanceID) })
	}
	wg.Go(func() { ea.busy, ea.err = r.cloud.Preflight(ctx, r.res.InstanceID, 1) })
	go func() {
		wg.Wait()
		close(ea.done)
	}()
	return ea
}

// preflightCalls does preflight's API work: it returns the snapshots still
// running on the instance, makes room under the quota where the early
// count could not rule it out, and opens as many connections as the
// creates in a freeze window need (conns). From the daemon's warm view it
// skips the running-snapshots check: a create refused because a snapshot
// is running makes the job refresh and re-plan instead.
func (r *run) preflightCalls(ctx context.Context, p *plan.Plan, conns int) ([]cloud.Snapshot, error) {
	var (
		busy []cloud.Snapshot
		room bool
	)
	if r.warm {
		room = r.e.Warm.Room(r.res.InstanceID, len(p.Selected()))
	} else {
		ea := r.early
		if ea == nil {
			ea = r.startEarly(ctx)
		}
		r.early = nil
		<-ea.done
		if ea.err != nil {
			return nil, fmt.Errorf("preflight: %w", ea.err)
		}
		if ea.roomErr != nil {
			r.e.Logger.Warn("could not count the instance's manual snapshots; counting per disk", "error", ea.roomErr)
		}
		busy, room = ea.busy, ea.room && ea.roomErr == nil && !r.quotaRefused
	}
	warmed := earlyConns
	if r.warm {
		warmed = 1 // the daemon's kept connection
	}
	var (
		wg      sync.WaitGroup
		warmErr error
	)
	if conns > warmed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			more, err := r.cloud.Preflight(ctx, r.res.InstanceID, conns)
			if err != nil {
				warmErr = fmt.Errorf("preflight: %w", err)
			} else if r.warm {
				busy = more
			}
		}()
	}
	var roomErr error
	if !room && r.e.MakeRoom != nil {
		if err := r.e.MakeRoom(ctx, r.cloud, r.res.InstanceID, p.Selected()); err != nil {
			roomErr = fmt.Errorf("make room under the snapshot quota: %w", err)
		}
	}
	wg.Wait()
	if roomErr != nil {
		return nil, roomErr
	}
	return busy, warmErr
}
