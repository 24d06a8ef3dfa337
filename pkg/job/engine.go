// Package job runs one snapshot job from start to end: identify the
// instance, take the disk inventory, plan, create the snapshots (one group
// call, or per-disk calls in parallel), follow them to completion and report.
// Each phase is a method so that discovery, freezing and hooks slot in
// between without reshaping the rest.
package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/hooks"
	"github.com/ecssnap/ecssnap/pkg/imds"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// Cloud is the part of *cloud.Client a job uses.
type Cloud interface {
	DescribeDisks(ctx context.Context, instanceID string) ([]cloud.Disk, error)
	CreateSnapshot(ctx context.Context, in cloud.CreateSnapshotInput) (string, error)
	CreateSnapshotGroup(ctx context.Context, in cloud.CreateGroupInput) (string, error)
	DescribeSnapshots(ctx context.Context, ids []string) ([]cloud.Snapshot, error)
	DescribeSnapshotGroups(ctx context.Context, instanceID string, ids []string) ([]cloud.SnapshotGroup, error)
	TagSnapshots(ctx context.Context, ids []string, tags []cloud.Tag) error
	Preflight(ctx context.Context, instanceID string, conns int) ([]cloud.Snapshot, error)
	CallCount() int64
	RetryCount() int64
	ErrorCounts() map[string]int64
	CallTime() time.Duration
}

// Identifier tells the instance who it is (the metadata service).
type Identifier interface {
	Identity(ctx context.Context) (imds.Identity, error)
}

// Engine runs jobs. Its fields are the job's dependencies; none is global.
type Engine struct {
	Metadata Identifier
	// NewCloud builds the ECS client once the region is known.
	NewCloud func(region string) (Cloud, error)
	Limits   plan.Limits
	// Local reads the guest's disk layout; its zero value skips it.
	Local Local
	// Freezing freezes filesystems; its zero value cannot.
	Freezing Freezing
	// Hooks runs the hook scripts; nil runs none.
	Hooks HookRunner
	// MakeRoom, when set, runs in preflight to make sure every selected
	// disk has room under its snapshot quota (evicting managed snapshots).
	MakeRoom func(ctx context.Context, c Cloud, instanceID string, diskIDs []string) error
	// Record persists the job (state is one of the Record* constants). It
	// runs before the create calls, after them, and at the end; nil
	// records nothing.
	Record func(res *Result, state string) error
	Now    func() time.Time
	Logger *slog.Logger
	// Emit receives every event; it must not block for long.
	Emit func(Event)
	// Poll bounds the adaptive interval between progress checks.
	PollMin, PollMax time.Duration
	// DefaultTimeout bounds waiting when the request sets none.
	DefaultTimeout time.Duration
	// Defaults are the configured values for what a request leaves out;
	// the daemon applies them to every request it queues, the API's too.
	Defaults Defaults
	// Inventories, when set, serves dry runs from a current inventory
	// (the daemon's) and is told of every inventory a job reads.
	Inventories InventoryCache
	// Warm, when set, is a view kept current between jobs (the daemon's):
	// a job plans from it without a call before its creates.
	Warm WarmView
	// Prejoined, when set, may give Warm's inventory inv already joined
	// to the guest's layout as read after the job was accepted (the
	// daemon reads it while it records the job); nil and no error mean
	// the job joins it now.
	Prejoined func(inv *Inventory) (*Inventory, error)
	// QuotaRoom, when set, tells in one call whether every disk of the
	// instance surely has room for one more snapshot; it runs beside
	// DescribeDisks, and true spares MakeRoom's per-disk counts.
	QuotaRoom func(ctx context.Context, c Cloud, instanceID string) (bool, error)
	// Created, when set, receives a copy of the result as soon as every
	// create call is answered, before the bookkeeping after them (group
	// members, tags, records): a caller that does not wait is answered
	// then.
	Created func(*Result)
	// HandOff, when set, ends a job that does not wait right after its
	// creates are answered and recorded: the bookkeeping after them is left
	// to Resume in another process (the CLI's in-process path starts one),
	// so the caller's process ends one round trip earlier.
	HandOff bool
}

// DefaultWaitTimeout is how long a job waits for completion by default.
const DefaultWaitTimeout = time.Hour

// run is the state of one job while it runs.
type run struct {
	e      *Engine
	req    Request
	res    *Result
	cloud  Cloud
	start  time.Time
	byDisk map[string]*SnapshotResult
	mu     sync.Mutex // guards res.Snapshots entries, answered and tagged during parallel creates
	// answered is when each create call (by index in res.Creates) was
	// answered, on the engine's clock: compared with the freeze window.
	answered map[int]time.Time
	// tagged is the consistency tag each snapshot carries, as set by this run.
	tagged map[string]string
	// blockedUntil ends the wait for snapshots in the job's way.
	blockedUntil time.Time
	// phase is the step the job is in, recorded as FailedIn on failure.
	phase       string
	groupWarned bool // the group's stale tag is in the warnings

	evMu    sync.Mutex
	holding bool // events are queued while filesystems are frozen
	held    []Event

	base      clientCounts // the cloud client's counters when the job began
	early     *early       // the preflight started beside DescribeDisks
	stopEarly func()
	warm      bool // planned from the warm view
	replans   int
	// After a partial failure from a stale view: the accepted creates
	// and their snapshots, and the disks planned again.
	kept      []CreateCall
	keptSnaps []SnapshotResult
	selection *plan.Selection
	// quotaRefused: a create was refused for quota; preflight counts
	// per disk.
	quotaRefused bool
}

// Run executes req. It always returns a Result describing what happened,
// also on failure, and an error when the job did not fully succeed.
func (e *Engine) Run(ctx context.Context, req Request) (*Result, error) {
	e.defaults()
	if req.Trigger == "" {
		req.Trigger = "manual"
	}
	r := &run{e: e, req: req, start: e.Now()}
	id := req.JobID
	if id == "" {
		id = NewID(r.start)
	}
	r.res = &Result{
		JobID: id, Trigger: req.Trigger, Reason: req.Reason,
		DryRun: req.DryRun, Waited: req.Wait, Started: r.start,
	}
	err := r.execute(ctx)
	if r.stopEarly != nil {
		r.stopEarly()
	}
	r.finish(err)
	// A job cut short by shutdown is not done: its last record lets the
	// next start resume it; nor is one handed off.
	if !req.DryRun && r.res.Creates != nil && ctx.Err() == nil && !r.res.HandedOff {
		if rerr := r.record(RecordDone); rerr != nil {
			r.e.Logger.Warn("could not record the job's end", "job", r.res.JobID, "error", rerr)
		}
	}
	return r.res, err
}

// Resume finishes a job interrupted by a crash, from its recorded result:
// every create that has no answer on record is repeated with exactly the
// same parameters and ClientToken, so one that took effect before the crash
// returns its first result rather than a second snapshot; then the job
// waits as asked. A repeated create was not covered by a freeze, so the
// job's level becomes crash and the tags say so.
func (e *Engine) Resume(ctx context.Context, res *Result, req Request) (*Result, error) {
	e.defaults()
	r := &run{e: e, req: req, res: res, start: res.Started, byDisk: map[string]*SnapshotResult{}}
	for i := range res.Snapshots {
		r.byDisk[res.Snapshots[i].DiskID] = &res.Snapshots[i]
	}
	// A job handed off was not interrupted: its bookkeeping is what is left.
	res.Resumed = !res.HandedOff
	handedOff := res.HandedOff
	res.HandedOff, res.Error, res.Outcome, res.FailedIn = false, "", "", ""
	cl, err := e.NewCloud(res.RegionID)
	if err == nil {
		// The job's figures go on from what its record says.
		r.cloud, r.base = cl, countsOf(cl).less(res)
		err = r.resume(ctx)
		if handedOff {
			r.finalHooks(ctx, res.Plan, err)
		}
	}
	r.finish(err)
	if ctx.Err() == nil {
		if rerr := r.record(RecordDone); rerr != nil {
			r.e.Logger.Warn("could not record the job's end", "job", res.JobID, "error", rerr)
		}
	}
	return res, err
}

func (r *run) resume(ctx context.Context) error {
	repeated := false
	for _, c := range r.res.Creates {
		repeated = repeated || c.ID == ""
	}
	level, _ := ParseLevel(r.res.Consistency)
	var err error
	if repeated || level == LevelDefault {
		level = LevelCrash
	}
	if repeated {
		err = r.create(ctx)
	}
	// Snapshots recorded with their level keep it; the repeated ones were
	// not covered by a freeze.
	r.assignLevels(level, nil)
	r.afterCreate(ctx)
	r.settle(ctx)
	level = r.achieved()
	if rerr := r.record(RecordCreated); rerr != nil {
		r.e.Logger.Warn("could not record the created snapshots", "error", rerr)
	}
	if err == nil && r.req.Wait {
		r.phase = PhaseWait
		err = r.wait(ctx)
	}
	if desired, _ := r.levels(); err == nil && repeated && level < desired {
		err = &DegradedError{Achieved: level, Desired: desired, Why: "resumed after a crash: the repeated creates were not covered by a freeze"}
	}
	return err
}

func (e *Engine) defaults() {
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	if e.Emit == nil {
		e.Emit = func(Event) {}
	}
	if e.PollMin <= 0 {
		e.PollMin = 500 * time.Millisecond
	}
	if e.PollMax <= 0 {
		e.PollMax = 15 * time.Second
	}
	if e.DefaultTimeout <= 0 {
		e.DefaultTimeout = DefaultWaitTimeout
	}
}

func (r *run) execute(ctx context.Context) error {
	r.phase = PhaseIdentify
	id, err := r.identify(ctx)
	if err != nil {
		return err
	}
	r.phase = PhaseInventory
	inv, err := r.inventoryFor(ctx, id)
	if err != nil {
		return err
	}
	desired, required := r.levels()
	r.res.Desired, r.res.Required = desired.String(), required.String()
	if required >= LevelFS && r.e.Freezing.Freezer == nil {
		return &BelowRequiredError{Achieved: LevelCrash, Required: required, Why: "freezing is not possible here (it needs root on Linux)"}
	}
	r.phase = PhasePlan
	p, err := r.plan(id, inv, desired >= LevelFS && r.e.Freezing.Freezer != nil)
	if err != nil {
		return err
	}
	ceiling, why := r.ceiling(p, desired)
	if r.req.DryRun {
		// What the job would reach (predict: as far as can be known
		// without running it); a real job records only what it did.
		level, why := r.predict(p, ceiling, why)
		r.res.Consistency = level.String()
		if level < desired {
			r.res.ConsistencyWhy = why
		}
		for i := range r.res.Snapshots {
			r.res.Snapshots[i].State = StatePlanned
		}
		return nil
	}
	if ceiling < required {
		return &BelowRequiredError{Achieved: ceiling, Required: required, Why: why}
	}
	r.phase = PhasePreflight
	if err := r.preflight(ctx, p); err != nil {
		return err
	}
	r.phase = PhaseFreeze
	why, err = r.window(ctx, p, ceiling, why)
	if r.shouldReplan(err) {
		why, err = r.replan(ctx, id, err, desired, required)
	}
	if r.e.Created != nil && err == nil && r.res.Creates != nil {
		r.created()
	}
	if r.handOff(err) {
		return nil
	}
	r.afterCreate(ctx)
	r.settle(ctx)
	level := r.achieved()
	if rerr := r.record(RecordCreated); rerr != nil {
		r.e.Logger.Warn("could not record the created snapshots", "error", rerr)
	}
	if err == nil && r.req.Wait {
		if rerr := r.record(RecordWaiting); rerr != nil {
			r.e.Logger.Warn("could not record the job", "error", rerr)
		}
		r.phase = PhaseWait
		err = r.wait(ctx)
	}
	switch {
	case err != nil || level == LevelDefault:
	case level < required:
		err = &BelowRequiredError{Achieved: level, Required: required, Why: why, Created: true}
	case level < desired:
		err = &DegradedError{Achieved: level, Desired: desired, Why: why}
		r.res.ConsistencyWhy = why
	}
	r.finalHooks(ctx, p, err)
	return err
}

// settle records the level the job reached, the lowest of its snapshots'
// ("" when none exists), and corrects the tags of the snapshots whose
// level is not the one they were tagged with at create time.
func (r *run) settle(ctx context.Context) {
	r.res.Consistency = ""
	if l := r.achieved(); l != LevelDefault {
		r.res.Consistency = l.String()
	}
	r.retag(ctx)
}

// finalHooks runs post-complete after success, on-failure otherwise.
func (r *run) finalHooks(ctx context.Context, p *plan.Plan, err error) {
	if r.e.Hooks == nil {
		return
	}
	phase := hooks.PostComplete
	var (
		timeout     *WaitTimeoutError
		interrupted *WaitInterruptedError
		degraded    *DegradedError
	)
	if err != nil && !errors.As(err, &timeout) && !errors.As(err, &interrupted) && !errors.As(err, &degraded) {
		phase = hooks.OnFailure
	}
	r.res.Hooks = append(r.res.Hooks, r.e.Hooks.Run(context.WithoutCancel(ctx), phase, r.hookEnv(p)))
}

// since returns the milliseconds from t to now.
func (r *run) since(t time.Time) int64 { return r.e.Now().Sub(t).Milliseconds() }

func (r *run) emit(ev Event) {
	ev.Time = r.e.Now()
	ev.Job = r.res.JobID
	r.evMu.Lock()
	if r.holding {
		r.held = append(r.held, ev)
		r.evMu.Unlock()
		return
	}
	r.evMu.Unlock()
	r.e.Emit(ev)
}

func (r *run) identify(ctx context.Context) (imds.Identity, error) {
	t := r.e.Now()
	id, err := r.e.Metadata.Identity(ctx)
	r.res.Timings.IdentifyMS = r.since(t)
	if err != nil {
		return id, err
	}
	r.res.InstanceID, r.res.RegionID, r.res.ZoneID = id.InstanceID, id.RegionID, id.ZoneID
	cl, err := r.e.NewCloud(id.RegionID)
	if err != nil {
		return id, err
	}
	r.cloud, r.base = cl, countsOf(cl)
	return id, nil
}

func (r *run) inventory(ctx context.Context, id imds.Identity) (*Inventory, error) {
	t := r.e.Now()
	fetch := func(ctx context.Context) (*Inventory, error) { return r.e.inventory(ctx, id, r.cloud) }
	var (
		inv *Inventory
		err error
	)
	if r.e.Inventories != nil {
		inv, err = r.e.Inventories.Inventory(ctx, id.InstanceID, fetch, !r.req.DryRun)
	} else {
		inv, err = fetch(ctx)
	}
	r.res.Timings.InventoryMS = r.since(t)
	if err != nil {
		return nil, err
	}
	r.res.Warnings = slices.Clone(inv.Warnings) // a cached inventory is shared
	return inv, nil
}

func (r *run) plan(id imds.Identity, inv *Inventory, freezing bool) (*plan.Plan, error) {
	t := r.e.Now()
	p, err := plan.Build(plan.Input{
		InstanceID: id.InstanceID, ZoneID: id.ZoneID, Disks: inv.Disks,
		Selection: r.selectionFor(), Mounts: r.mountsFor(), Limits: r.e.Limits, Local: inv.Local,
		AllowInconsistent: r.req.AllowInconsistent, Freeze: freezing,
	})
	r.res.Timings.PlanMS = r.since(t)
	if err != nil {
		return nil, err
	}
	r.res.Plan = p
	r.byDisk = map[string]*SnapshotResult{}
	r.res.Snapshots = make([]SnapshotResult, 0, len(p.Selected()))
	for _, diskID := range p.Selected() {
		d := p.Disks[diskID]
		method := p.Method(diskID)
		sr := SnapshotResult{
			DiskID: d.ID, DiskType: d.Type, Category: d.Category, SizeGiB: d.SizeGiB,
			Device: p.Devices[d.ID], Method: string(method), State: StatePlanned,
		}
		if method == plan.MethodPerDisk {
			sr.ClientToken = ClientToken(r.res.JobID, r.tokenKey(d.ID))
		}
		r.res.Snapshots = append(r.res.Snapshots, sr)
	}
	for i := range r.res.Snapshots {
		r.byDisk[r.res.Snapshots[i].DiskID] = &r.res.Snapshots[i]
	}
	if len(p.Group) > 0 {
		r.res.GroupToken = ClientToken(r.res.JobID, r.tokenKey("group"))
	}
	r.emit(Event{Type: "plan", Message: strings.Join(p.Reasons, "; "), Reasons: p.Reasons})
	return p, nil
}

// afterCreate runs once the filesystems are thawed: one call learns the
// group members' snapshot IDs, so the caller gets every ID even without
// waiting, and waiting needs no per-group calls.
func (r *run) afterCreate(ctx context.Context) {
	if r.res.GroupID == "" {
		return
	}
	if err := r.learnGroupMembers(ctx); err != nil && ctx.Err() == nil {
		r.e.Logger.Warn("could not list the snapshot group's members yet", "group", r.res.GroupID, "error", err)
	}
}

// learnGroupMembers finds the group's member snapshots and gives them the
// job's tags: group tags are not documented to reach the members, and
// listing and retention find snapshots by tag.
func (r *run) learnGroupMembers(ctx context.Context) error {
	groups, err := r.cloud.DescribeSnapshotGroups(ctx, r.res.InstanceID, []string{r.res.GroupID})
	if err != nil {
		return err
	}
	found := map[string][]string{} // level -> member snapshot IDs
	for _, g := range groups {
		for _, m := range g.Members {
			if sr := r.byDisk[m.DiskID]; sr != nil && sr.SnapshotID == "" {
				sr.SnapshotID = m.SnapshotID
				level := sr.Consistency
				if level == "" {
					level = r.res.Consistency
				}
				found[level] = append(found[level], m.SnapshotID)
				r.emit(Event{Type: "created", DiskID: m.DiskID, SnapshotID: m.SnapshotID, GroupID: g.ID})
			}
		}
	}
	for _, level := range slices.Sorted(maps.Keys(found)) {
		if err := r.cloud.TagSnapshots(ctx, found[level], r.tagsAt(level)); err != nil {
			return err
		}
		r.noteTag(found[level], level)
	}
	return nil
}

// joinCreateErrors reports failed create calls, which left failed of the
// job's total snapshots uncreated, in one line that keeps the first error
// reachable through errors.As for exit-code classification.
func joinCreateErrors(errs []error, failed, total int) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		if total == 1 {
			return errs[0]
		}
	}
	return &CreateError{Failed: failed, Total: total, Errs: errs}
}

// CreateError is one or more failed create calls in a job.
type CreateError struct {
	Failed, Total int // snapshots not created, snapshots in the job
	Errs          []error
}

func (e *CreateError) Error() string {
	return fmt.Sprintf("%d of %d snapshots not created: %v", e.Failed, e.Total, e.Errs[0])
}

func (e *CreateError) Unwrap() []error { return e.Errs }

// finish fills in the outcome and totals.
func (r *run) finish(err error) {
	r.res.Finished = r.e.Now()
	r.res.Timings.TotalMS = r.res.Finished.Sub(r.start).Milliseconds()
	if r.cloud != nil {
		r.sinceCounts(r.cloud, r.base)
	}
	created := 0
	for i := range r.res.Snapshots {
		s := &r.res.Snapshots[i]
		if s.State == StatePlanned && !r.req.DryRun {
			// Never sent: the job stopped before its create.
			s.State, s.Error = StateNotCreated, notSent(s.DiskID, r.phase, err)
		}
		if s.State != StateNotCreated && s.State != StateCreating && s.State != StatePlanned {
			created++
		}
	}
	var (
		timeout     *WaitTimeoutError
		interrupted *WaitInterruptedError
		degraded    *DegradedError
	)
	switch {
	case r.req.DryRun && err == nil:
		r.res.Outcome = "planned"
	case errors.As(err, &timeout):
		r.res.Outcome = "timed-out"
	case errors.As(err, &interrupted):
		// Created, and nobody waits for the end any more.
		r.res.Outcome = "interrupted"
	case errors.As(err, &degraded):
		r.res.Outcome = "degraded"
	case err != nil && created > 0:
		r.res.Outcome = "partial"
	case err != nil:
		r.res.Outcome = "failed"
	case !r.req.Wait:
		r.res.Outcome = "created"
	default:
		r.res.Outcome = "succeeded"
	}
	if err != nil {
		r.res.Error, r.res.ErrorClass = err.Error(), Classify(err)
		if r.res.Outcome == "failed" || r.res.Outcome == "partial" {
			r.res.FailedIn = r.phase
		}
	}
	r.emit(Event{Type: "done", Message: r.res.Outcome})
}
