package restore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/job"
)

// A rollback, in order: stop the instance (KeepCharging), take a safety
// snapshot of every disk it will reset and wait for them, reset the disks
// to the job's snapshots (ResetDisks, ResetDisk per disk as the fallback),
// wait, start the instance, wait for Running. The safety snapshots come
// after the stop, not before: with the instance stopped, per-disk snapshots
// hold one point in time across disks and clean filesystems, which a
// running multi-disk filesystem could only get from a group; ResetDisk
// refuses a disk with an unfinished snapshot, so they must finish first
// either way.

// Rollback phases, recorded as they are reached.
const (
	PhasePlanned   = "planned"
	PhaseStopping  = "stopping"
	PhaseSafety    = "safety-snapshots"
	PhaseResetting = "resetting"
	PhaseStarting  = "starting"
	PhaseDone      = "done"
)

// RollbackState is a rollback's journal beyond its steps.
type RollbackState struct {
	// Pairs are fixed when the rollback is first recorded and never
	// recomputed: a rerun resets the same disks from the same snapshots.
	Pairs       []cloud.ResetPair `json:"pairs"`
	Taken       time.Time         `json:"taken"`
	Phase       string            `json:"phase"`
	KeepCurrent bool              `json:"keep_current"`
	// SafetyJob is the job ID the safety snapshots carry: rolling back to
	// it undoes this rollback.
	SafetyJob string            `json:"safety_job,omitempty"`
	Safety    []SafetySnapshot  `json:"safety,omitempty"`
	Reset     map[string]string `json:"reset,omitempty"` // disk -> snapshot it was reset from
}

// SafetySnapshot is the snapshot of a disk's state before the rollback.
type SafetySnapshot struct {
	DiskID     string `json:"disk_id"`
	Token      string `json:"client_token"`
	SnapshotID string `json:"snapshot_id,omitempty"`
}

// RollbackPlan is what a rollback will do, for the preview and --dry-run.
type RollbackPlan struct {
	Job      Job            `json:"job"`
	Instance cloud.Instance `json:"instance"`
	RegionID string         `json:"region_id"`
	Disks    []cloud.Disk   `json:"disks"` // the disks to reset, in Job order
	// Untouched are the instance's disks the job has no snapshot of.
	Untouched   []cloud.Disk `json:"untouched,omitempty"`
	KeepCurrent bool         `json:"keep_current"`
	// Resume is set when an unfinished rollback of this job will be continued.
	Resume *Record `json:"-"`
}

// PlanRollback checks that the job's disks can be reset and says how. It
// changes nothing.
func PlanRollback(ctx context.Context, c Cloud, j *Journal, jobID, instanceID, region string, keepCurrent bool, expect []string) (*RollbackPlan, error) {
	if instanceID == "" {
		return nil, usagef("rollback needs --instance: the instance whose disks to reset")
	}
	if j != nil {
		if err := otherRollback(j, jobID, instanceID); err != nil {
			return nil, err
		}
	}
	in, err := c.DescribeInstance(ctx, instanceID)
	if err != nil {
		if cloud.KindOf(err) == cloud.KindNotFound {
			return nil, usagef("instance %s does not exist in region %s", instanceID, region)
		}
		return nil, fmt.Errorf("describe instance %s: %w", instanceID, err)
	}
	found, err := FindJob(ctx, c, jobID, instanceID, expect)
	if err != nil {
		return nil, err
	}
	p := &RollbackPlan{Job: found, Instance: in, RegionID: region, KeepCurrent: keepCurrent}
	if j != nil {
		if rec, ok, err := j.Get(KindRollback, jobID); err != nil {
			return nil, err
		} else if ok && rec.State != StateDone && rec.InstanceID == instanceID {
			p.Resume = rec
		}
	}
	if slices.Contains(in.Locks, "security") {
		return nil, usagef("instance %s is locked for security reasons (OperationLocks); the cloud refuses every operation on it", instanceID)
	}
	if p.Resume == nil && in.Status != "Running" && in.Status != "Stopped" {
		return nil, usagef("instance %s is %s; a rollback starts from Running or Stopped: wait and try again", instanceID, in.Status)
	}
	if p.Resume == nil {
		// ResetDisk refuses a disk with a snapshot still being created (the
		// job's own included): found now, before the instance is stopped.
		busy, err := c.ProgressingSnapshots(ctx, instanceID)
		if err != nil {
			return nil, fmt.Errorf("list the snapshots in progress on %s: %w", instanceID, err)
		}
		for _, s := range busy {
			if slices.Contains(found.Disks(), s.DiskID) {
				return nil, usagef("disk %s has a snapshot still being created (%s, %d%%); the cloud refuses to reset it until that finishes: try again then", s.DiskID, s.ID, s.Progress)
			}
		}
	}
	disks, err := c.DescribeDisks(ctx, instanceID)
	if err != nil {
		return nil, fmt.Errorf("describe the disks of %s: %w", instanceID, err)
	}
	byID := map[string]cloud.Disk{}
	for _, d := range disks {
		byID[d.ID] = d
	}
	for _, s := range found.Snapshots {
		d, ok := byID[s.DiskID]
		if !ok {
			return nil, usagef("job %s: disk %s (snapshot %s) is no longer attached to %s; it cannot be rolled back in place (use ecssnap mount or a disk created from the snapshot)", jobID, s.DiskID, s.SnapshotID, instanceID)
		}
		p.Disks = append(p.Disks, d)
	}
	for _, d := range disks {
		if !slices.Contains(found.Disks(), d.ID) {
			p.Untouched = append(p.Untouched, d)
		}
	}
	return p, nil
}

// otherRollback refuses a rollback of an instance that has another job's
// rollback unfinished: finishing that one comes first.
func otherRollback(j *Journal, jobID, instanceID string) error {
	recs, err := j.List(KindRollback)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.JobID != jobID && r.InstanceID == instanceID && r.State != StateDone {
			return usagef("a rollback of %s to job %s is unfinished (phase %s); finish it first: ecssnap rollback %s --instance %s --region %s --yes "+
				"(or, if it can never finish, remove its record %s)",
				instanceID, r.JobID, r.Rollback.Phase, r.JobID, instanceID, r.RegionID, j.Path(KindRollback, r.JobID))
		}
	}
	return nil
}

// Pairs returns the disk and snapshot of every reset.
func (p *RollbackPlan) Pairs() []cloud.ResetPair {
	if p.Resume != nil {
		return p.Resume.Rollback.Pairs
	}
	out := make([]cloud.ResetPair, len(p.Job.Snapshots))
	for i, s := range p.Job.Snapshots {
		out[i] = cloud.ResetPair{DiskID: s.DiskID, SnapshotID: s.SnapshotID}
	}
	return out
}

// Calls lists the API calls the rollback makes, in order, as text.
func (p *RollbackPlan) Calls() []string {
	id := p.Instance.ID
	var out []string
	if p.Instance.Status != "Stopped" {
		out = append(out, fmt.Sprintf("StopInstance InstanceId=%s StoppedMode=KeepCharging   (then DescribeInstances until Stopped)", id))
	}
	if p.KeepCurrent {
		for _, d := range p.Disks {
			out = append(out, fmt.Sprintf("CreateSnapshot DiskId=%s Tag ecssnap:rollback-of=%s   (the current state, kept)", d.ID, p.Job.ID))
		}
		out = append(out, "DescribeSnapshots until every safety snapshot is accomplished")
	}
	var pairs []string
	for i, pr := range p.Pairs() {
		pairs = append(pairs, fmt.Sprintf("Disk.%d.DiskId=%s Disk.%d.SnapshotId=%s", i+1, pr.DiskID, i+1, pr.SnapshotID))
	}
	out = append(out, "ResetDisks RegionId="+p.RegionID+" "+strings.Join(pairs, " ")+"   (ResetDisk per disk if ResetDisks is refused)",
		"DescribeDisks until no disk is ReIniting",
		fmt.Sprintf("StartInstance InstanceId=%s   (then DescribeInstances until Running)", id))
	return out
}

// ConsoleSteps are the same steps in the ECS console, for users who would
// rather click.
func (p *RollbackPlan) ConsoleSteps() []string {
	out := []string{fmt.Sprintf("ECS console > Instances > %s > Stop (choose standard mode, not economical)", p.Instance.ID)}
	if p.KeepCurrent {
		out = append(out, "Storage & Snapshots > Disks > each disk below > Create Snapshot; wait until 100%")
	}
	for _, pr := range p.Pairs() {
		out = append(out, fmt.Sprintf("Storage & Snapshots > Snapshots > %s > Roll Back Disk (disk %s)", pr.SnapshotID, pr.DiskID))
	}
	return append(out, fmt.Sprintf("Instances > %s > Start", p.Instance.ID))
}

// Rollback carries out a plan, journaled step by step; a rerun after an
// interruption continues from the record.
func Rollback(ctx context.Context, c Cloud, j *Journal, p *RollbackPlan, opts Options) (*Record, error) {
	o := opts.withDefaults()
	unlock, err := j.Lock(KindRollback, p.Job.ID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec := p.Resume
	if rec == nil {
		rec = &Record{Kind: KindRollback, JobID: p.Job.ID, InstanceID: p.Instance.ID, RegionID: p.RegionID, State: StateRunning,
			Rollback: &RollbackState{Pairs: p.Pairs(), Taken: p.Job.Taken(), Phase: PhasePlanned, KeepCurrent: p.KeepCurrent,
				Reset: map[string]string{}}}
		if p.KeepCurrent {
			rec.Rollback.SafetyJob = job.NewID(o.Now())
		}
		// Recorded before any call: from here on the pairs are fixed.
		if err := j.Save(rec); err != nil {
			return nil, err
		}
	} else {
		o.Progress(fmt.Sprintf("continuing the unfinished rollback of %s to job %s (phase %s)", rec.InstanceID, rec.JobID, rec.Rollback.Phase))
	}
	if rec.Rollback.Reset == nil {
		rec.Rollback.Reset = map[string]string{} // an empty map is not written
	}
	r := &rollbackRun{c: c, j: j, rec: rec, st: rec.Rollback, o: o}
	if err := r.run(ctx); err != nil {
		rec.Error = err.Error()
		_ = j.Save(rec)
		return rec, err
	}
	rec.State, rec.Error = StateDone, ""
	rec.Rollback.Phase = PhaseDone
	return rec, j.Save(rec)
}

type rollbackRun struct {
	c   Cloud
	j   *Journal
	rec *Record
	st  *RollbackState
	o   Options
}

func (r *rollbackRun) phase(ph string) error {
	r.st.Phase = ph
	return r.j.Save(r.rec)
}

func (r *rollbackRun) run(ctx context.Context) error {
	id := r.rec.InstanceID
	// A rollback that already reset the disks goes straight to starting.
	if r.st.Phase != PhaseStarting && r.st.Phase != PhaseDone {
		if err := r.stop(ctx); err != nil {
			return err
		}
		if r.st.KeepCurrent {
			if err := r.safety(ctx); err != nil {
				return err
			}
		}
		if err := r.reset(ctx); err != nil {
			return err
		}
	}
	if err := r.phase(PhaseStarting); err != nil {
		return err
	}
	in, err := r.c.DescribeInstance(ctx, id)
	if err != nil {
		return err
	}
	if in.Status == "Stopped" {
		r.o.Progress("starting " + id)
		if _, err := r.j.step(r.rec, "StartInstance", id, "", func() (string, error) {
			return "", r.c.StartInstance(ctx, id)
		}); err != nil {
			return fmt.Errorf("start %s: %w", id, err)
		}
	}
	return r.o.waitFor(ctx, id+" to be Running", func() (bool, error) {
		in, err := r.c.DescribeInstance(ctx, id)
		return in.Status == "Running", err
	})
}

func (r *rollbackRun) stop(ctx context.Context) error {
	id := r.rec.InstanceID
	if err := r.phase(PhaseStopping); err != nil {
		return err
	}
	in, err := r.c.DescribeInstance(ctx, id)
	if err != nil {
		return err
	}
	switch in.Status {
	case "Stopped", "Stopping":
	case "Running":
		r.o.Progress("stopping " + id + " (StoppedMode=KeepCharging)")
		if _, err := r.j.step(r.rec, "StopInstance", id, "", func() (string, error) {
			return "", r.c.StopInstance(ctx, id, cloud.StoppedModeKeepCharging)
		}); err != nil {
			return fmt.Errorf("stop %s: %w", id, err)
		}
	default:
		return usagef("instance %s is %s, neither Running nor Stopped; wait and run the rollback again", id, in.Status)
	}
	return r.o.waitFor(ctx, id+" to be Stopped", func() (bool, error) {
		in, err := r.c.DescribeInstance(ctx, id)
		return in.Status == "Stopped", err
	})
}

func (r *rollbackRun) safety(ctx context.Context) error {
	if err := r.phase(PhaseSafety); err != nil {
		return err
	}
	for _, pr := range r.st.Pairs {
		if slices.ContainsFunc(r.st.Safety, func(s SafetySnapshot) bool { return s.DiskID == pr.DiskID && s.SnapshotID != "" }) {
			continue
		}
		tok := token("ecssnap-rb", r.st.SafetyJob, pr.DiskID)
		if !slices.ContainsFunc(r.st.Safety, func(s SafetySnapshot) bool { return s.DiskID == pr.DiskID }) {
			r.st.Safety = append(r.st.Safety, SafetySnapshot{DiskID: pr.DiskID, Token: tok})
		}
		r.o.Progress("safety snapshot of " + pr.DiskID)
		// The token is in the record before the call: a rerun repeats the
		// create with it and gets the same snapshot.
		snap, err := r.j.step(r.rec, "CreateSnapshot", pr.DiskID, tok, func() (string, error) {
			return r.c.CreateSnapshot(ctx, cloud.CreateSnapshotInput{
				DiskID: pr.DiskID, Name: job.SnapshotName("pre-rollback", r.rec.Created, ""), // the same on a rerun, as the token needs
				Description: "ecssnap: the state of " + pr.DiskID + " before rollback to job " + r.rec.JobID,
				ClientToken: tok,
				Tags: []cloud.Tag{{Key: job.TagManaged, Value: "true"}, {Key: job.TagJob, Value: r.st.SafetyJob},
					{Key: job.TagTrigger, Value: "pre-rollback"}, {Key: job.TagConsistency, Value: "fs"},
					{Key: TagRollbackOf, Value: r.rec.JobID}},
			})
		})
		if err != nil {
			return fmt.Errorf("safety snapshot of %s: %w", pr.DiskID, err)
		}
		for i := range r.st.Safety {
			if r.st.Safety[i].DiskID == pr.DiskID {
				r.st.Safety[i].SnapshotID = snap
			}
		}
		if err := r.j.Save(r.rec); err != nil {
			return err
		}
	}
	ids := make([]string, len(r.st.Safety))
	for i, s := range r.st.Safety {
		ids[i] = s.SnapshotID
	}
	r.o.Progress("waiting for the safety snapshots to finish")
	return r.o.waitFor(ctx, "the safety snapshots", func() (bool, error) {
		snaps, err := r.c.DescribeSnapshots(ctx, ids)
		if err != nil {
			return false, err
		}
		if len(snaps) < len(ids) {
			return false, fmt.Errorf("a safety snapshot disappeared while it was being created; nothing was reset")
		}
		for _, s := range snaps {
			switch s.Status {
			case cloud.StatusFailed:
				return false, fmt.Errorf("safety snapshot %s of %s failed; nothing was reset (the instance is left Stopped)", s.ID, s.DiskID)
			case cloud.StatusAccomplished:
			default:
				return false, nil
			}
		}
		return true, nil
	})
}

// resetsUnsupported reports whether ResetDisks itself was refused (the API
// is marked for deprecation), as opposed to a disk's precondition.
func resetsUnsupported(err error) bool {
	var ae *cloud.APIError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.Code == "InvalidAction.NotFound" || ae.Code == "InvalidRegion.NotSupport" || ae.Kind == cloud.KindUnsupported
}

func (r *rollbackRun) reset(ctx context.Context) error {
	if err := r.phase(PhaseResetting); err != nil {
		return err
	}
	var todo []cloud.ResetPair
	for _, pr := range r.st.Pairs {
		// A reset from the same snapshot is the only one ever issued for a
		// disk; repeating it (when the answer was lost) is harmless while
		// the instance stays stopped.
		if r.st.Reset[pr.DiskID] != pr.SnapshotID {
			todo = append(todo, pr)
		}
	}
	if len(todo) > 0 {
		r.o.Progress(fmt.Sprintf("resetting %d disk(s) to job %s", len(todo), r.rec.JobID))
		var results []cloud.ResetResult
		_, err := r.j.step(r.rec, "ResetDisks", pairsText(todo), "", func() (string, error) {
			var err error
			results, err = r.c.ResetDisks(ctx, todo)
			return "", err
		})
		switch {
		case err == nil:
			var failed []string
			for _, res := range results {
				pr := pairOf(todo, res.DiskID)
				if res.OK && pr != nil {
					r.st.Reset[pr.DiskID] = pr.SnapshotID
					continue
				}
				failed = append(failed, fmt.Sprintf("%s: %s %s", res.DiskID, res.Code, res.Message))
			}
			if err := r.j.Save(r.rec); err != nil {
				return err
			}
			if len(failed) > 0 {
				return fmt.Errorf("ResetDisks refused %s; the instance is left Stopped: fix the cause and run the rollback again", strings.Join(failed, "; "))
			}
		case resetsUnsupported(err):
			r.o.Progress("ResetDisks is not available; resetting disk by disk")
			for _, pr := range todo {
				if _, err := r.j.step(r.rec, "ResetDisk", pr.DiskID, pr.SnapshotID, func() (string, error) {
					return "", r.c.ResetDisk(ctx, pr.DiskID, pr.SnapshotID)
				}); err != nil {
					return fmt.Errorf("reset %s to %s: %w (the instance is left Stopped)", pr.DiskID, pr.SnapshotID, err)
				}
				r.st.Reset[pr.DiskID] = pr.SnapshotID
				if err := r.j.Save(r.rec); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("reset the disks: %w (the instance is left Stopped)", err)
		}
	}
	ids := make([]string, len(r.st.Pairs))
	for i, pr := range r.st.Pairs {
		ids[i] = pr.DiskID
	}
	return r.o.waitFor(ctx, "the disks' reset", func() (bool, error) {
		disks, err := r.c.DescribeDisksByID(ctx, ids)
		if err != nil {
			return false, err
		}
		for _, d := range disks {
			if d.Status == "ReIniting" {
				return false, nil
			}
		}
		return true, nil
	})
}

func pairOf(pairs []cloud.ResetPair, disk string) *cloud.ResetPair {
	for i := range pairs {
		if pairs[i].DiskID == disk {
			return &pairs[i]
		}
	}
	return nil
}

func pairsText(pairs []cloud.ResetPair) string {
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.DiskID + "=" + p.SnapshotID
	}
	return strings.Join(parts, ",")
}
