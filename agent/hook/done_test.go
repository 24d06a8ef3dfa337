package hook

import (
	"testing"

	"github.com/ecssnap/ecssnap/pkg/job"
)

// A job handed off before DescribeSnapshotGroups named its group's members
// still made them: the hook's line counts them (the chroot test compares it
// with the cloud).
func TestDoneCountsGroupMembersNotYetNamed(t *testing.T) {
	res := &job.Result{JobID: "j-1", GroupID: "ssg-1", Snapshots: []job.SnapshotResult{
		{DiskID: "d-sys", Method: "group", State: job.StateCreated},
		{DiskID: "d-data", Method: "group", State: job.StateCreated},
		{DiskID: "d-eff", Method: "single", SnapshotID: "s-1", State: job.StateCreated},
		{DiskID: "d-late", Method: "single", State: job.StateNotCreated},
	}}
	if got, want := done(res), "job j-1, 3 snapshots created"; got != want {
		t.Errorf("done = %q, want %q", got, want)
	}
}

// One snapshot is one snapshot, not "1 snapshot(s)".
func TestDoneSaysOneSnapshot(t *testing.T) {
	res := &job.Result{JobID: "j-1", Snapshots: []job.SnapshotResult{{DiskID: "d-1", Method: "single", SnapshotID: "s-1", State: job.StateCreated}}}
	if got, want := done(res), "job j-1, 1 snapshot created"; got != want {
		t.Errorf("done = %q, want %q", got, want)
	}
}
