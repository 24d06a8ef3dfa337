package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/imds"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// WarmView is an inventory kept current between jobs (the daemon's, renewed
// on the kernel's notices of block devices and mounts): a job planned from
// it makes no call before its creates. A stale view is never trusted
// blindly: a create refused because the world changed marks it stale, and
// the job reads a fresh inventory and plans again, once.
type WarmView interface {
	// Current returns the view's inventory of instanceID while the view is
	// current, or nil: the job then reads a fresh one.
	Current(instanceID string) *Inventory
	// Room reports whether n more manual snapshots surely fit under every
	// disk's quota by the view's count; false makes the job count per disk.
	Room(instanceID string, n int) bool
	// Stale says a create failed because the view no longer holds; the
	// view is not used again before it has been read anew.
	Stale(why string)
}

// warmInventory returns the warm view's inventory when the engine has one
// and it is current; nil otherwise.
func (r *run) warmInventory(id imds.Identity) *Inventory {
	if r.e.Warm == nil || r.req.DryRun || r.replans > 0 {
		return nil
	}
	inv := r.e.Warm.Current(id.InstanceID)
	if inv == nil {
		return nil
	}
	// The guest's side is read afresh for every job (sysfs and mountinfo,
	// no call): only the cloud's side comes from the view, so a closure
	// changed by LVM or a mount is never planned from memory. Read after
	// the job was accepted is afresh too: the caller's changes are in it.
	var (
		joined *Inventory
		err    error
	)
	if r.e.Prejoined != nil {
		joined, err = r.e.Prejoined(inv)
	}
	if joined == nil && err == nil {
		joined, err = r.e.Rejoin(inv)
	}
	if err != nil {
		r.e.Logger.Warn("could not join the kept disk view to the guest's layout; reading the inventory anew", "error", err)
		return nil
	}
	inv = joined
	r.warm, r.res.WarmView = true, true
	r.res.Warnings = append(r.res.Warnings, inv.Warnings...)
	return inv
}

// inventoryFor reads the inventory the job plans from: the warm view's,
// or a fresh one with the early preflight running beside DescribeDisks.
func (r *run) inventoryFor(ctx context.Context, id imds.Identity) (*Inventory, error) {
	t := r.e.Now()
	if inv := r.warmInventory(id); inv != nil {
		r.res.Timings.InventoryMS = r.since(t)
		return inv, nil
	}
	if !r.req.DryRun {
		ectx, cancel := context.WithCancel(ctx)
		r.stopEarly = cancel
		r.early = r.startEarly(ectx)
	}
	return r.inventory(ctx, id)
}

// worldChanged reports whether a create failed because what the plan
// assumed no longer holds (the disk detached, resized, of another
// category, a snapshot running on it, its quota full): worth planning
// again from a fresh inventory.
func worldChanged(err error) bool {
	var ae *cloud.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Kind {
	case cloud.KindDiskState, cloud.KindNotFound, cloud.KindQuota, cloud.KindUnsupported:
		return true
	}
	return ae.Code == "InvalidDiskId.NotBelongToInstance"
}

// maxReplans bounds how often a job plans again after the world changed.
const maxReplans = 1

// shouldReplan reports whether the job planned from the warm view and a
// create failed because the world changed.
func (r *run) shouldReplan(err error) bool {
	if err == nil || !r.warm || r.replans >= maxReplans {
		return false
	}
	var ce *CreateError
	if errors.As(err, &ce) {
		for _, e := range ce.Errs {
			if worldChanged(e) {
				return true
			}
		}
		return false
	}
	return worldChanged(err)
}

// keepAccepted sets aside the creates the API accepted and their
// snapshots: planning again covers only the disks whose creates failed.
// It returns those disks' IDs, or nil when none was accepted.
func (r *run) keepAccepted() []string {
	var failed []string
	r.kept, r.keptSnaps = nil, nil
	for _, c := range r.res.Creates {
		if c.ID != "" {
			r.kept = append(r.kept, c)
			for _, id := range c.DiskIDs {
				if sr := r.byDisk[id]; sr != nil {
					r.keptSnaps = append(r.keptSnaps, *sr)
				}
			}
		} else {
			failed = append(failed, c.DiskIDs...)
		}
	}
	if len(r.kept) == 0 {
		return nil
	}
	return failed
}

// restoreAccepted puts the set-aside creates and snapshots back beside
// those of the new plan.
func (r *run) restoreAccepted() {
	if len(r.keptSnaps) == 0 {
		return
	}
	r.res.Snapshots = append(slices.Clone(r.keptSnaps), r.res.Snapshots...)
	for i := range r.res.Snapshots {
		r.byDisk[r.res.Snapshots[i].DiskID] = &r.res.Snapshots[i]
	}
	for _, c := range r.kept {
		if c.Kind == CreateGroup {
			r.res.GroupID = c.ID
		}
	}
}

// replan starts over from a fresh inventory after the warm view proved
// stale: plan, preflight and the window again, under new ClientTokens (the
// refused calls' tokens belong to other parameters).
func (r *run) replan(ctx context.Context, id imds.Identity, cause error, desired, required Level) (string, error) {
	r.replans++
	r.warm = false
	r.e.Warm.Stale(cause.Error())
	r.res.Replanned = fmt.Sprintf("the warm view was stale (%v): read the inventory anew and planned again", cause)
	r.e.Logger.Info("a create failed because the world changed; planning again from a fresh inventory", "job", r.res.JobID, "error", cause)
	r.emit(Event{Type: "replan", Message: r.res.Replanned})
	if ae := (*cloud.APIError)(nil); errors.As(cause, &ae) && ae.Kind == cloud.KindQuota {
		// The one-call count said there was room and the API disagrees
		// (a disk brought from another instance holds snapshots the
		// instance's count misses): count per disk this time.
		r.quotaRefused = true
	}
	retry := r.keepAccepted()
	r.res.Freeze, r.res.GroupID, r.res.Creates = nil, "", nil
	t := r.e.Now()
	inv, err := r.freshInventory(ctx, id)
	r.res.Timings.InventoryMS += r.since(t)
	if err != nil {
		return "", err
	}
	if retry != nil {
		// Some creates were accepted: plan again only the disks whose
		// creates failed and that are still the instance's.
		var still []string
		for _, d := range inv.Disks {
			if slices.Contains(retry, d.ID) {
				still = append(still, d.ID)
			}
		}
		r.selection = &plan.Selection{Kind: "ids", IDs: still}
		if len(still) == 0 {
			// Nothing left to take: what was accepted is the job.
			r.res.Snapshots, r.byDisk = nil, map[string]*SnapshotResult{}
			r.restoreAccepted()
			r.res.Creates = r.kept
			return "", nil
		}
	}
	p, err := r.plan(id, inv, desired >= LevelFS && r.e.Freezing.Freezer != nil)
	r.restoreAccepted()
	if err != nil {
		return "", err
	}
	ceiling, why := r.ceiling(p, desired)
	if ceiling < required {
		return why, &BelowRequiredError{Achieved: ceiling, Required: required, Why: why}
	}
	if err := r.preflight(ctx, p); err != nil {
		return why, err
	}
	return r.window(ctx, p, ceiling, why)
}

// freshInventory reads the inventory anew, through the engine's cache so
// that the daemon's view is renewed too.
func (r *run) freshInventory(ctx context.Context, id imds.Identity) (*Inventory, error) {
	fetch := func(ctx context.Context) (*Inventory, error) { return r.e.inventory(ctx, id, r.cloud) }
	var (
		inv *Inventory
		err error
	)
	if r.e.Inventories != nil {
		inv, err = r.e.Inventories.Inventory(ctx, id.InstanceID, fetch, true)
	} else {
		inv, err = fetch(ctx)
	}
	if err != nil {
		return nil, err
	}
	r.res.Warnings = append(r.res.Warnings, inv.Warnings...)
	return inv, nil
}

// tokenKey is what a ClientToken of the job is derived from: the disk ID or
// "group", with the attempt when the job planned again.
func (r *run) tokenKey(what string) string {
	if r.replans == 0 {
		return what
	}
	return fmt.Sprintf("%s-r%d", what, r.replans)
}

// Rejoin maps inv's cloud disks to the guest's layout as it is now,
// without an API or metadata call (the serials are inv's): the mounts
// changed, the disks did not.
func (e *Engine) Rejoin(inv *Inventory) (*Inventory, error) {
	e.defaults()
	if e.Local.Discover == nil {
		return e.joinLayout(inv.Identity, inv.Disks, localLayout{skip: true})
	}
	l := localLayout{serials: inv.Serials}
	l.topo, l.err = e.Local.Discover()
	return e.joinLayout(inv.Identity, inv.Disks, l)
}

// clientCounts are a cloud client's counters when the job began using it:
// the daemon's client serves every job, and a job reports its own calls.
type clientCounts struct {
	calls, retries int64
	errors         map[string]int64
	time           time.Duration
}

func countsOf(c Cloud) clientCounts {
	return clientCounts{calls: c.CallCount(), retries: c.RetryCount(), errors: c.ErrorCounts(), time: c.CallTime()}
}

// less takes away what res recorded, so that figures since the result
// are the job's in all.
func (c clientCounts) less(res *Result) clientCounts {
	c.calls -= res.APICalls
	c.retries -= res.Retries
	c.time -= time.Duration(res.APITimeMS) * time.Millisecond
	errs := make(map[string]int64, len(c.errors))
	for k, v := range c.errors {
		errs[k] = v
	}
	for k, v := range res.APIErrors {
		errs[k] -= v
	}
	c.errors = errs
	return c
}

// sinceCounts fills the result's API figures with what c did since base.
func (r *run) sinceCounts(c Cloud, base clientCounts) {
	r.res.APICalls = c.CallCount() - base.calls
	r.res.Retries = c.RetryCount() - base.retries
	r.res.APITimeMS = (c.CallTime() - base.time).Milliseconds()
	errs := map[string]int64{}
	for k, v := range c.ErrorCounts() {
		if d := v - base.errors[k]; d > 0 {
			errs[k] = d
		}
	}
	r.res.APIErrors = errs
}

// created hands the caller's answer to Engine.Created: the result as it
// stands once every create is answered, at the level the snapshots were
// taken at.
func (r *run) created() {
	if !r.req.Wait {
		// What the record says from now on, until the job's end says more.
		r.res.Outcome = "created"
	}
	res := r.res.Clone()
	if res == nil {
		return
	}
	if l := r.achieved(); l != LevelDefault {
		res.Consistency = l.String()
	}
	if !r.req.Wait {
		res.Outcome = "created"
	}
	r.e.Created(res)
}

// selectionFor is the plan's disk selection: the request's, or after a
// partial failure the disks planned again.
func (r *run) selectionFor() plan.Selection {
	if r.selection != nil {
		return *r.selection
	}
	return r.req.Disks
}

// mountsFor is the plan's mount selection; planning again by disk IDs
// drops it (the disks were chosen from it the first time).
func (r *run) mountsFor() []string {
	if r.selection != nil {
		return nil
	}
	return r.req.Mounts
}

// handOff ends the job here when the engine hands off and the job does
// not wait: its creates were all accepted, and the record says so before
// anything else happens (state created, which Resume finishes).
func (r *run) handOff(err error) bool {
	if !r.e.HandOff || r.req.Wait || r.req.DryRun || err != nil || r.res.Creates == nil {
		return false
	}
	for _, c := range r.res.Creates {
		if c.ID == "" {
			return false
		}
	}
	r.res.HandedOff = true
	r.res.Outcome = "created"
	if l := r.achieved(); l != LevelDefault {
		r.res.Consistency = l.String()
	}
	if rerr := r.record(RecordCreated); rerr != nil {
		// Without the record nobody could finish it: finish it here.
		r.res.HandedOff = false
		r.e.Logger.Warn("could not record the created snapshots", "error", rerr)
		return false
	}
	return true
}
