package daemon

import (
	"github.com/ecssnap/ecssnap/pkg/job"
)

// prejoin is the warm view joined to the guest's layout (sysfs and
// mountinfo, a few milliseconds on a machine with many block devices),
// read from the moment a job is accepted: beside its record when its
// caller does not wait (a write and two fsyncs), beside the worker's
// start otherwise. The job plans from it instead of reading the layout
// once more after. The layout is read after the request arrived, so it
// holds every change the caller made before asking.
type prejoin struct {
	done   chan struct{}
	from   *job.Inventory // the view's inventory it joined
	joined *job.Inventory
	err    error
}

// startPrejoin joins the view with an engine of build when a job about to
// be queued will start at once (no job runs or waits): a job that waits
// behind another reads the layout when it starts. Callers hold j.mu.
func (j *Jobs) startPrejoin(build func(emit func(job.Event)) *job.Engine) *prejoin {
	if !j.warm || build == nil || j.running != nil || len(j.queue) > 0 {
		return nil
	}
	p := &prejoin{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		c := j.inv
		c.mu.Lock()
		inv := c.inv
		if c.stale {
			inv = nil
		}
		c.mu.Unlock()
		if inv == nil {
			return
		}
		p.from = inv
		p.joined, p.err = build(nil).Rejoin(inv)
	}()
	return p
}

// use is the engine's Prejoined: the join of inv, once made, when it was
// made from inv (the view was not renewed meanwhile).
func (p *prejoin) use(inv *job.Inventory) (*job.Inventory, error) {
	<-p.done
	if p.from != inv {
		return nil, nil
	}
	return p.joined, p.err
}
