package restore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/job"
)

// DefaultMountRoot is where `ecssnap mount JOB` puts a job's filesystems,
// under JOB/, with their original mount paths below.
const DefaultMountRoot = "/run/ecssnap/restore"

// MountState is a mount's journal beyond its steps.
type MountState struct {
	At     string       `json:"at"`
	ZoneID string       `json:"zone_id"`
	Clones []Clone      `json:"clones"`
	Mounts []MountPoint `json:"mounts,omitempty"`
}

// Clone is a disk created from one of the job's snapshots.
type Clone struct {
	SnapshotID       string `json:"snapshot_id"`
	SourceDiskID     string `json:"source_disk_id"`
	Category         string `json:"category"`
	PerformanceLevel string `json:"performance_level,omitempty"`
	SizeGiB          int    `json:"size_gib"`
	Token            string `json:"client_token"`
	DiskID           string `json:"disk_id,omitempty"`
	Serial           string `json:"serial,omitempty"`
	Device           string `json:"device,omitempty"` // the guest's block device, e.g. vdc
}

// MountPoint is one filesystem of the job mounted from clones.
type MountPoint struct {
	Target   string   `json:"target"`
	Original string   `json:"original,omitempty"` // where the original is mounted ("" if it is not)
	FSType   string   `json:"fstype"`
	Devices  []string `json:"devices"` // the kernel's clone devices it was built from
	// Disks are the clone disks, as "d-clone (from d-original)".
	Disks   []string `json:"disks,omitempty"`
	Options string   `json:"options"`
}

// Guest is the instance's side of a mount: finding the attached clones and
// building filesystems from them. Its Linux implementation is LinuxGuest.
type Guest interface {
	// Device returns the block device name of the attached disk with this
	// serial, or "" while it is not visible yet.
	Device(diskID, serial string) (string, error)
	// Mount rebuilds the job's filesystems from the clone devices only and
	// mounts them read-only below root. It returns what it mounted, also
	// on error (so that it can be undone).
	Mount(ctx context.Context, clones []Clone, root string) ([]MountPoint, error)
	// Unmount undoes Mount; mounts already gone are not an error.
	Unmount(ctx context.Context, mounts []MountPoint) error
}

// MountRequest is what `ecssnap mount` asks for.
type MountRequest struct {
	JobID      string
	InstanceID string
	ZoneID     string
	RegionID   string
	At         string   // the directory for the job's tree; "" means DefaultMountRoot/JOB
	Expect     []string // the job's snapshot IDs from its local record, if any
}

// AlreadyMountedError is a mount of a job already in place.
type AlreadyMountedError struct{ JobID, At string }

func (e *AlreadyMountedError) Error() string {
	return fmt.Sprintf("job %s is already mounted at %s; `ecssnap unmount %s` first", e.JobID, e.At, e.JobID)
}

// Mount creates a disk from each of the job's snapshots in the instance's
// zone, attaches them, finds them by serial, and has the guest mount the
// job's filesystems from them read-only under At. Anything that fails
// after the first disk was created is undone before Mount returns.
func Mount(ctx context.Context, c Cloud, j *Journal, g Guest, req MountRequest, opts Options) (*Record, error) {
	o := opts.withDefaults()
	unlock, err := j.Lock(KindMount, req.JobID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if req.At == "" {
		req.At = filepath.Join(DefaultMountRoot, req.JobID)
	}
	if old, ok, err := j.Get(KindMount, req.JobID); err != nil {
		return nil, err
	} else if ok {
		switch old.State {
		case StateMounted:
			return nil, &AlreadyMountedError{JobID: req.JobID, At: old.Mount.At}
		case StateRemoved:
		default:
			// An interrupted mount: its leftovers go before a fresh start.
			o.Progress("cleaning up an interrupted mount of job " + req.JobID)
			if err := undo(ctx, c, j, g, old, o); err != nil {
				return nil, fmt.Errorf("clean up the interrupted mount of job %s: %w", req.JobID, err)
			}
		}
	}
	found, err := FindJob(ctx, c, req.JobID, req.InstanceID, req.Expect)
	if err != nil {
		return nil, err
	}
	for _, s := range found.Snapshots {
		if !s.Available {
			return nil, usagef("job %s: snapshot %s is not usable yet (still being created); try again when `ecssnap show %s` says accomplished", req.JobID, s.SnapshotID, req.JobID)
		}
	}
	sources, err := c.DescribeDisksByID(ctx, found.Disks())
	if err != nil {
		return nil, fmt.Errorf("describe the job's disks: %w", err)
	}
	rec := &Record{Kind: KindMount, JobID: req.JobID, InstanceID: req.InstanceID, RegionID: req.RegionID, State: StateRunning,
		Mount: &MountState{At: req.At, ZoneID: req.ZoneID}, Created: o.Now().UTC()}
	// Tokens differ per mount of the job: after an unmount, mounting again
	// must create new disks, not get the deleted ones back.
	attempt := rec.Created.Format("20060102T150405.000000000")
	for _, s := range found.Snapshots {
		cl := Clone{SnapshotID: s.SnapshotID, SourceDiskID: s.DiskID, SizeGiB: s.SizeGiB,
			Token: token("ecssnap-mnt", req.JobID, s.SnapshotID, req.InstanceID, attempt)}
		// The clone keeps its original's category and level: explicit,
		// because CreateDisk's default is the basic "cloud" disk.
		cl.Category, cl.PerformanceLevel = "cloud_essd", "PL1"
		for _, d := range sources {
			if d.ID == s.DiskID {
				cl.Category, cl.PerformanceLevel, cl.SizeGiB = d.Category, d.PerformanceLevel, max(cl.SizeGiB, d.SizeGiB)
			}
		}
		if cl.Category != "cloud_essd" {
			cl.PerformanceLevel = ""
		}
		rec.Mount.Clones = append(rec.Mount.Clones, cl)
	}
	// The tokens are on disk before the first create.
	if err := j.Save(rec); err != nil {
		return nil, err
	}
	if err := mountSteps(ctx, c, j, g, rec, o); err != nil {
		o.Progress("undoing: " + oneLine(err))
		if uerr := undo(ctx, c, j, g, rec, o); uerr != nil {
			return rec, fmt.Errorf("%w; cleaning up also failed (run `ecssnap unmount %s`): %v", err, req.JobID, uerr)
		}
		return rec, err
	}
	rec.State, rec.Error = StateMounted, ""
	return rec, j.Save(rec)
}

func oneLine(err error) string { return strings.SplitN(err.Error(), "\n", 2)[0] }

func mountSteps(ctx context.Context, c Cloud, j *Journal, g Guest, rec *Record, o Options) error {
	st := rec.Mount
	tags := []cloud.Tag{{Key: job.TagManaged, Value: "true"}, {Key: TagRestoreOf, Value: rec.JobID}}
	for i := range st.Clones {
		cl := &st.Clones[i]
		o.Progress(fmt.Sprintf("creating a %s disk from %s (%s, %d GiB)", cl.Category, cl.SnapshotID, cl.SourceDiskID, cl.SizeGiB))
		id, err := j.step(rec, "CreateDisk", cl.SnapshotID, cl.Token, func() (string, error) {
			return c.CreateDisk(ctx, cloud.CreateDiskInput{
				ZoneID: st.ZoneID, SnapshotID: cl.SnapshotID, Category: cl.Category, PerformanceLevel: cl.PerformanceLevel,
				SizeGiB: cl.SizeGiB, Name: "ecssnap-restore-" + cl.SourceDiskID,
				Description: "ecssnap mount of job " + rec.JobID + ": " + cl.SourceDiskID + " as it was", Tags: tags, ClientToken: cl.Token,
			})
		})
		if err != nil {
			return fmt.Errorf("create a disk from %s: %w", cl.SnapshotID, err)
		}
		cl.DiskID = id
		if err := j.Save(rec); err != nil {
			return err
		}
	}
	if err := waitDisks(ctx, c, o, st.Clones, "Available"); err != nil {
		return err
	}
	for i := range st.Clones {
		cl := &st.Clones[i]
		o.Progress(fmt.Sprintf("attaching %s to %s", cl.DiskID, rec.InstanceID))
		// DeleteWithInstance: a clone must never outlive the instance.
		if _, err := j.step(rec, "AttachDisk", cl.DiskID, "", func() (string, error) {
			return "", c.AttachDisk(ctx, rec.InstanceID, cl.DiskID, true)
		}); err != nil {
			if hasCode(err, cloud.CodeDiskLimit) {
				return usagef("%s has as many disks attached as it may (InstanceDiskLimitExceeded); detach one or unmount another restore, then try again", rec.InstanceID)
			}
			return fmt.Errorf("attach %s: %w", cl.DiskID, err)
		}
	}
	if err := waitDisks(ctx, c, o, st.Clones, "In_use"); err != nil {
		return err
	}
	ids := make([]string, len(st.Clones))
	for i, cl := range st.Clones {
		ids[i] = cl.DiskID
	}
	disks, err := c.DescribeDisksByID(ctx, ids)
	if err != nil {
		return err
	}
	for i := range st.Clones {
		for _, d := range disks {
			if d.ID == st.Clones[i].DiskID {
				st.Clones[i].Serial = d.Serial
			}
		}
	}
	for i := range st.Clones {
		cl := &st.Clones[i]
		if err := o.waitFor(ctx, "disk "+cl.DiskID+" to appear in the guest", func() (bool, error) {
			dev, err := g.Device(cl.DiskID, cl.Serial)
			cl.Device = dev
			return dev != "", err
		}); err != nil {
			return err
		}
		o.Progress(fmt.Sprintf("%s is /dev/%s (serial %s)", cl.DiskID, cl.Device, cl.Serial))
	}
	if err := j.Save(rec); err != nil {
		return err
	}
	mounts, err := g.Mount(ctx, st.Clones, st.At)
	st.Mounts = mounts
	if serr := j.Save(rec); serr != nil && err == nil {
		err = serr
	}
	return err
}

// waitDisks waits until every clone has the status.
func waitDisks(ctx context.Context, c Cloud, o Options, clones []Clone, status string) error {
	var ids []string
	for _, cl := range clones {
		if cl.DiskID != "" {
			ids = append(ids, cl.DiskID)
		}
	}
	return o.waitFor(ctx, "the restore disks to be "+status, func() (bool, error) {
		disks, err := c.DescribeDisksByID(ctx, ids)
		if err != nil {
			return false, err
		}
		if len(disks) < len(ids) {
			return false, errors.New("a restore disk disappeared")
		}
		for _, d := range disks {
			if d.Status != status {
				return false, nil
			}
		}
		return true, nil
	})
}

// Unmount undoes a job's mount: unmount, detach, wait, delete. Without a
// record (a state directory lost or wiped), the job's restore disks on
// instanceID are still found by tag and source snapshot, and removed.
func Unmount(ctx context.Context, c Cloud, j *Journal, g Guest, jobID, instanceID string, opts Options) (*Record, error) {
	o := opts.withDefaults()
	unlock, err := j.Lock(KindMount, jobID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, ok, err := j.Get(KindMount, jobID)
	if err != nil {
		return nil, err
	}
	if ok && rec.State != StateRemoved {
		return rec, undo(ctx, c, j, g, rec, o)
	}
	notMounted := usagef("job %s is not mounted (see `ecssnap mounts`)", jobID)
	if instanceID == "" {
		return nil, notMounted
	}
	found, err := FindJob(ctx, c, jobID, instanceID, nil)
	if err != nil {
		var ue *UsageError
		if errors.As(err, &ue) {
			return nil, notMounted
		}
		return nil, err
	}
	rec = &Record{Kind: KindMount, JobID: jobID, InstanceID: instanceID, State: StateUndoing, Mount: &MountState{}}
	for _, s := range found.Snapshots {
		rec.Mount.Clones = append(rec.Mount.Clones, Clone{SnapshotID: s.SnapshotID, SourceDiskID: s.DiskID})
	}
	left, err := leftovers(ctx, c, rec)
	if err != nil {
		return nil, err
	}
	if len(left) == 0 {
		return nil, notMounted
	}
	o.Progress(fmt.Sprintf("no record of a mount of job %s, but %d of its restore disks: removing them", jobID, len(left)))
	return rec, undo(ctx, c, j, g, rec, o)
}

// undo removes everything a mount record says was (or may have been)
// made: mounts, then each disk detached, waited for and deleted. Disks are
// also looked up by tag and source snapshot, so a disk whose ID a crash
// kept out of the record is found too.
func undo(ctx context.Context, c Cloud, j *Journal, g Guest, rec *Record, o Options) error {
	rec.State = StateUndoing
	if err := j.Save(rec); err != nil {
		return err
	}
	st := rec.Mount
	if len(st.Mounts) > 0 {
		o.Progress("unmounting " + st.At)
		if err := g.Unmount(ctx, st.Mounts); err != nil {
			return err
		}
		st.Mounts = nil
		if err := j.Save(rec); err != nil {
			return err
		}
	}
	disks, err := leftovers(ctx, c, rec)
	if err != nil {
		return err
	}
	for _, d := range disks {
		if d.InstanceID != "" && (d.Status == "In_use" || d.Status == "Attaching") {
			if d.Status == "Attaching" {
				if err := waitDisks(ctx, c, o, []Clone{{DiskID: d.ID}}, "In_use"); err != nil {
					return err
				}
			}
			o.Progress("detaching " + d.ID)
			if _, err := j.step(rec, "DetachDisk", d.ID, "", func() (string, error) {
				return "", c.DetachDisk(ctx, d.InstanceID, d.ID)
			}); err != nil {
				return fmt.Errorf("detach %s: %w", d.ID, err)
			}
		}
	}
	var ids []string
	for _, d := range disks {
		ids = append(ids, d.ID)
	}
	if len(ids) > 0 {
		if err := o.waitFor(ctx, "the restore disks to be detached", func() (bool, error) {
			now, err := c.DescribeDisksByID(ctx, ids)
			if err != nil {
				return false, err
			}
			for _, d := range now {
				if d.Status != "Available" {
					return false, nil
				}
			}
			return true, nil
		}); err != nil {
			return err
		}
	}
	for _, id := range ids {
		o.Progress("deleting " + id)
		if _, err := j.step(rec, "DeleteDisk", id, "", func() (string, error) {
			return "", c.DeleteDisk(ctx, id)
		}); err != nil {
			return fmt.Errorf("delete %s: %w", id, err)
		}
	}
	rec.State, rec.Error = StateRemoved, ""
	return j.Save(rec)
}

// leftovers finds the disks a mount record made: by the recorded IDs, and
// by the restore tag, kept only when their SourceSnapshotId is one of the
// record's snapshots (a tag alone could have been copied by hand).
func leftovers(ctx context.Context, c Cloud, rec *Record) ([]cloud.Disk, error) {
	tagged, err := c.ListDisksByTag(ctx, cloud.Tag{Key: TagRestoreOf, Value: rec.JobID})
	if err != nil {
		return nil, fmt.Errorf("find the restore disks of job %s: %w", rec.JobID, err)
	}
	var out []cloud.Disk
	snaps := map[string]bool{}
	var ids []string
	for _, cl := range rec.Mount.Clones {
		snaps[cl.SnapshotID] = true
		if cl.DiskID != "" {
			ids = append(ids, cl.DiskID)
		}
	}
	for _, d := range tagged {
		if snaps[d.SourceSnapshotID] && (d.InstanceID == "" || d.InstanceID == rec.InstanceID) {
			out = append(out, d)
		}
	}
	if len(ids) > 0 {
		recorded, err := c.DescribeDisksByID(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, d := range recorded {
			if !slices.ContainsFunc(out, func(x cloud.Disk) bool { return x.ID == d.ID }) {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// Recover cleans up every mount that a crash interrupted (state running or
// undoing): the first thing each ecssnap start does when there is one, so
// that no restore disk is left running up a bill.
func Recover(ctx context.Context, c Cloud, j *Journal, g Guest, opts Options) (int, error) {
	o := opts.withDefaults()
	recs, err := j.List(KindMount)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, r := range recs {
		if r.State != StateRunning && r.State != StateUndoing {
			continue
		}
		unlock, err := j.Lock(KindMount, r.JobID)
		if err != nil {
			continue // a live ecssnap is working on it
		}
		// Reread under the lock: the holder may have finished meanwhile.
		cur, ok, err := j.Get(KindMount, r.JobID)
		if err == nil && ok && (cur.State == StateRunning || cur.State == StateUndoing) {
			o.Logger.Warn("cleaning up an interrupted restore mount", "job", r.JobID)
			if err := undo(ctx, c, j, g, cur, o); err != nil {
				errs = append(errs, fmt.Errorf("job %s: %w", r.JobID, err))
			} else {
				n++
			}
		}
		unlock()
	}
	return n, errors.Join(errs...)
}

// NeedsRecovery reports whether any mount was interrupted, without a call
// to the cloud: the cheap check before Recover.
func NeedsRecovery(j *Journal) bool {
	recs, err := j.List(KindMount)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(recs, func(r *Record) bool { return r.State == StateRunning || r.State == StateUndoing })
}
