// Package restore brings a job's point in time back, three ways: beside the
// running system (mount: disks created from the job's snapshots, attached
// and mounted read-only), in place (rollback: the instance stopped, its
// disks reset to the job's snapshots, started again, from outside the
// instance), or as a custom image. Every cloud call is recorded in a
// journal in the state directory before it is made, so that a run killed
// at any point is finished (rollback, image) or cleaned up (mount) by the
// next one, and nothing is left running up a bill.
package restore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/job"
)

// Cloud is the part of the ECS API restores use; *cloud.Client has it.
type Cloud interface {
	ListSnapshotsByTag(ctx context.Context, instanceID string, tag cloud.Tag) ([]cloud.Snapshot, error)
	ListSnapshotGroupsByTag(ctx context.Context, instanceID string, tag cloud.Tag) ([]cloud.SnapshotGroup, error)
	DescribeSnapshots(ctx context.Context, ids []string) ([]cloud.Snapshot, error)
	ProgressingSnapshots(ctx context.Context, instanceID string) ([]cloud.Snapshot, error)
	DescribeInstance(ctx context.Context, instanceID string) (cloud.Instance, error)
	DescribeDisks(ctx context.Context, instanceID string) ([]cloud.Disk, error)
	DescribeDisksByID(ctx context.Context, ids []string) ([]cloud.Disk, error)
	ListDisksByTag(ctx context.Context, tag cloud.Tag) ([]cloud.Disk, error)
	ListDisksFromSnapshot(ctx context.Context, snapshotID string) ([]cloud.Disk, error)
	CreateSnapshot(ctx context.Context, in cloud.CreateSnapshotInput) (string, error)
	CreateDisk(ctx context.Context, in cloud.CreateDiskInput) (string, error)
	AttachDisk(ctx context.Context, instanceID, diskID string, deleteWithInstance bool) error
	DetachDisk(ctx context.Context, instanceID, diskID string) error
	DeleteDisk(ctx context.Context, diskID string) error
	ResetDisk(ctx context.Context, diskID, snapshotID string) error
	ResetDisks(ctx context.Context, pairs []cloud.ResetPair) ([]cloud.ResetResult, error)
	StopInstance(ctx context.Context, instanceID, stoppedMode string) error
	StartInstance(ctx context.Context, instanceID string) error
	CreateImage(ctx context.Context, in cloud.CreateImageInput) (string, error)
	DescribeImage(ctx context.Context, id string) (cloud.Image, bool, error)
}

// Tags restores put on what they create.
const (
	// TagRestoreOf marks a disk created from a job's snapshot: with the
	// disk's SourceSnapshotId, the way to find leftovers.
	TagRestoreOf = "ecssnap:restore-of"
	// TagRollbackOf marks the safety snapshots taken before a rollback.
	TagRollbackOf = "ecssnap:rollback-of"
)

// JobSnapshot is one disk's snapshot in a job.
type JobSnapshot struct {
	SnapshotID string    `json:"snapshot_id"`
	DiskID     string    `json:"disk_id"`
	DiskType   string    `json:"disk_type"` // system or data
	SizeGiB    int       `json:"size_gib"`
	Status     string    `json:"status"`
	Available  bool      `json:"available"`
	Created    time.Time `json:"created"`
	Device     string    `json:"device,omitempty"` // the ecssnap:device hint
}

// Job is what the cloud knows of a job: its snapshots, found by tag.
type Job struct {
	ID          string        `json:"id"`
	InstanceID  string        `json:"instance_id"`
	Consistency string        `json:"consistency,omitempty"`
	Snapshots   []JobSnapshot `json:"snapshots"`
}

// Taken is when the job's point in time was taken (its earliest snapshot).
func (j Job) Taken() time.Time {
	var t time.Time
	for _, s := range j.Snapshots {
		if t.IsZero() || s.Created.Before(t) {
			t = s.Created
		}
	}
	return t
}

// Disks returns the job's disk IDs, system disk first.
func (j Job) Disks() []string {
	out := make([]string, len(j.Snapshots))
	for i, s := range j.Snapshots {
		out[i] = s.DiskID
	}
	return out
}

// UsageError is bad input a user can fix; nothing was changed.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error { return &UsageError{Msg: fmt.Sprintf(format, args...)} }

// FindJob finds a job's snapshots by its tag, in instanceID's snapshots (or
// the whole region when instanceID is ""), and checks that they can be
// restored: every one finished, none missing. expect lists the snapshot
// IDs the job's local record names (nil when the record is not at hand):
// a snapshot deleted since is caught only through it, or when all are.
func FindJob(ctx context.Context, c Cloud, jobID, instanceID string, expect []string) (Job, error) {
	tag := cloud.Tag{Key: job.TagJob, Value: jobID}
	snaps, err := c.ListSnapshotsByTag(ctx, instanceID, tag)
	if err != nil {
		return Job{}, fmt.Errorf("find the snapshots of job %s: %w", jobID, err)
	}
	// Group members get the job's tags after the group is created; a member
	// that missed them is still the job's.
	groups, err := c.ListSnapshotGroupsByTag(ctx, instanceID, tag)
	if err != nil {
		return Job{}, fmt.Errorf("find the snapshot group of job %s: %w", jobID, err)
	}
	var missing []string
	for _, g := range groups {
		for _, m := range g.Members {
			if !slices.ContainsFunc(snaps, func(s cloud.Snapshot) bool { return s.ID == m.SnapshotID }) {
				missing = append(missing, m.SnapshotID)
			}
		}
		if instanceID == "" {
			instanceID = g.InstanceID
		}
	}
	if len(missing) > 0 {
		more, err := c.DescribeSnapshots(ctx, missing)
		if err != nil {
			return Job{}, fmt.Errorf("describe the group members of job %s: %w", jobID, err)
		}
		snaps = append(snaps, more...)
	}
	if len(snaps) == 0 {
		return Job{}, usagef("job %s: no snapshot carries the tag %s=%s in this region: the job is unknown, or its snapshots were deleted", jobID, job.TagJob, jobID)
	}
	j := Job{ID: jobID, InstanceID: instanceID}
	seen := map[string]bool{}
	for _, s := range snaps {
		if seen[s.ID] {
			continue
		}
		seen[s.ID] = true
		if j.Consistency == "" {
			j.Consistency = s.Tags[job.TagConsistency]
		}
		j.Snapshots = append(j.Snapshots, JobSnapshot{
			SnapshotID: s.ID, DiskID: s.DiskID, DiskType: s.DiskType, SizeGiB: s.DiskSizeGiB,
			Status: s.Status, Available: s.Available, Created: s.Created, Device: s.Tags[job.TagDevice],
		})
	}
	sort.SliceStable(j.Snapshots, func(a, b int) bool {
		if (j.Snapshots[a].DiskType == "system") != (j.Snapshots[b].DiskType == "system") {
			return j.Snapshots[a].DiskType == "system"
		}
		return j.Snapshots[a].DiskID < j.Snapshots[b].DiskID
	})
	var gone []string
	for _, id := range expect {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		return j, usagef("job %s: snapshot %s no longer exists (deleted since the job); the job's point in time cannot be restored whole", jobID, strings.Join(gone, ", "))
	}
	perDisk := map[string]string{}
	for _, s := range j.Snapshots {
		if s.Status == cloud.StatusFailed {
			return j, usagef("job %s: the snapshot %s of disk %s failed; a job with failed snapshots cannot be restored", jobID, s.SnapshotID, s.DiskID)
		}
		if prev, dup := perDisk[s.DiskID]; dup {
			return j, usagef("job %s: disk %s has two snapshots tagged with this job (%s, %s); refusing to guess", jobID, s.DiskID, prev, s.SnapshotID)
		}
		perDisk[s.DiskID] = s.SnapshotID
	}
	if j.InstanceID == "" {
		// Per-disk snapshots do not name their instance: their disks do.
		disks, err := c.DescribeDisksByID(ctx, j.Disks())
		if err != nil {
			return j, fmt.Errorf("find the instance of job %s: %w", jobID, err)
		}
		for _, d := range disks {
			if d.InstanceID != "" {
				j.InstanceID = d.InstanceID
				break
			}
		}
	}
	return j, nil
}

// unfinished lists the job's snapshots not yet accomplished.
func (j Job) unfinished() []string {
	var out []string
	for _, s := range j.Snapshots {
		if s.Status != cloud.StatusAccomplished {
			out = append(out, s.SnapshotID)
		}
	}
	return out
}
