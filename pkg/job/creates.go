package job

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// Create kinds.
const (
	CreateGroup = "group"
	CreateDisk  = "disk"
)

// CreateCall is one create the job issues, recorded in full before it is
// sent: a job resumed after a crash repeats it with exactly the same
// parameters and ClientToken, which the API answers with the first result
// instead of a second snapshot.
type CreateCall struct {
	Kind          string      `json:"kind"` // group or disk
	DiskIDs       []string    `json:"disk_ids"`
	Name          string      `json:"name"`
	Description   string      `json:"description"`
	Tags          []cloud.Tag `json:"tags"`
	RetentionDays int         `json:"retention_days,omitempty"`
	ClientToken   string      `json:"client_token"`
	ID            string      `json:"id,omitempty"` // the snapshot or group ID, once accepted
}

// Persistence states passed to Engine.Record.
const (
	RecordRunning = "running" // create calls are about to be sent
	RecordCreated = "created" // every create call was answered
	RecordWaiting = "waiting" // following the snapshots to completion
	RecordDone    = "done"
)

// tagsAt are the tags on every snapshot and group of this job, for a
// snapshot taken at level.
func (r *run) tagsAt(level string) []cloud.Tag {
	tags := []cloud.Tag{
		{Key: TagManaged, Value: "true"},
		{Key: TagJob, Value: r.res.JobID},
		{Key: TagTrigger, Value: TagValue(r.res.Trigger)},
		{Key: TagConsistency, Value: level},
	}
	if r.res.Plan != nil && r.res.Plan.Inconsistent {
		tags = append(tags, cloud.Tag{Key: TagInconsistent, Value: "true"})
	}
	return append(tags, r.req.Tags...)
}

// prepareCreates fixes every create call's parameters before anything is
// frozen, so the window holds nothing but the calls.
func (r *run) prepareCreates(p *plan.Plan) {
	desc := Description(r.req.Reason)
	tags := r.tagsAt(r.res.Consistency)
	r.res.Creates = nil
	if len(p.Group) > 0 {
		r.res.Creates = append(r.res.Creates, CreateCall{
			Kind: CreateGroup, DiskIDs: p.Group, Name: SnapshotName(r.res.Trigger, r.start, "group"),
			Description: desc, Tags: tags, ClientToken: r.res.GroupToken,
		})
	}
	for _, id := range p.PerDisk {
		r.res.Creates = append(r.res.Creates, CreateCall{
			Kind: CreateDisk, DiskIDs: []string{id}, Name: SnapshotName(r.res.Trigger, r.start, id),
			Description: desc, Tags: tags, RetentionDays: r.req.RetentionDays, ClientToken: r.byDisk[id].ClientToken,
		})
	}
	// Creates accepted before the job planned again stay on record.
	r.res.Creates = append(slices.Clone(r.kept), r.res.Creates...)
}

// record persists the result when the engine has a store; an error before
// the creates aborts the job, since a crash then could not be reconciled.
func (r *run) record(state string) error {
	if r.e.Record == nil {
		return nil
	}
	if err := r.e.Record(r.res, state); err != nil {
		return fmt.Errorf("record the job: %w", err)
	}
	return nil
}

// create sends every create call not yet answered, all at once, and
// returns when each has been answered.
func (r *run) create(ctx context.Context) error {
	r.phase = PhaseCreate
	t := r.e.Now()
	var (
		wg     sync.WaitGroup
		errMu  sync.Mutex
		errs   []error
		failed int // snapshots of the failed calls: a group call has several
	)
	for i := range r.res.Creates {
		if r.res.Creates[i].ID != "" {
			continue
		}
		r.mu.Lock()
		for _, d := range r.res.Creates[i].DiskIDs {
			r.byDisk[d].State = StateCreating // the call goes out now
		}
		r.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.send(ctx, i); err != nil {
				errMu.Lock()
				errs = append(errs, err)
				failed += len(r.res.Creates[i].DiskIDs)
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	r.res.Timings.CreateMS = r.since(t)
	r.res.Timings.ToCreatedMS = r.since(r.start)
	return joinCreateErrors(errs, failed, len(r.res.Snapshots))
}

// send issues create call i and records its outcome on the disks and when
// it was answered.
func (r *run) send(ctx context.Context, i int) error {
	c := &r.res.Creates[i]
	var (
		id  string
		err error
	)
	if c.Kind == CreateGroup {
		r.emit(Event{Type: "create", Message: "snapshot group of " + strings.Join(c.DiskIDs, ", ")})
		id, err = r.cloud.CreateSnapshotGroup(ctx, cloud.CreateGroupInput{
			InstanceID: r.res.InstanceID, DiskIDs: c.DiskIDs, Name: c.Name, Description: c.Description,
			Tags: c.Tags, ClientToken: c.ClientToken,
		})
	} else {
		r.emit(Event{Type: "create", DiskID: c.DiskIDs[0]})
		id, err = r.cloud.CreateSnapshot(ctx, cloud.CreateSnapshotInput{
			DiskID: c.DiskIDs[0], Name: c.Name, Description: c.Description, RetentionDays: c.RetentionDays,
			Tags: c.Tags, ClientToken: c.ClientToken,
		})
	}
	answered := r.e.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.answered == nil {
		r.answered = map[int]time.Time{}
	}
	r.answered[i] = answered
	for _, diskID := range c.DiskIDs {
		sr := r.byDisk[diskID]
		sr.ElapsedMS = r.since(r.start)
		switch {
		case err != nil:
			sr.State, sr.Error = StateNotCreated, err.Error()
		case c.Kind == CreateGroup:
			sr.State, sr.Error = StateCreated, ""
		default:
			sr.SnapshotID, sr.State, sr.Error = id, StateCreated, ""
		}
	}
	if err != nil {
		return err
	}
	c.ID = id
	if c.Kind == CreateGroup {
		r.res.GroupID = id
		r.emit(Event{Type: "created", GroupID: id})
	} else {
		r.emit(Event{Type: "created", DiskID: c.DiskIDs[0], SnapshotID: id})
	}
	return nil
}

// answeredAt is when create call i was answered in this run (zero: not).
func (r *run) answeredAt(i int) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.answered[i]
}
