package fleet

import (
	"errors"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/job"
)

// verify must see each kind of problem; otherwise a run that reports
// "0 duplicates" would prove nothing.
func TestVerifyFindsProblems(t *testing.T) {
	tagged := func(jobID string) map[string]string { return map[string]string{job.TagJob: jobID} }
	st := ecsemu.StateDump{
		Disks: []ecsemu.DiskView{
			{ID: "d-a1", InstanceID: "i-a"}, {ID: "d-a2", InstanceID: "i-a"},
			{ID: "d-b1", InstanceID: "i-b"},
			{ID: "d-c1", InstanceID: "i-c"},
			{ID: "d-d1", InstanceID: "i-d"},
		},
		Snapshots: []ecsemu.SnapshotView{
			{ID: "s-a1", DiskID: "d-a1", GroupID: "ssg-a", Tags: tagged("j-a")},
			{ID: "s-a1bis", DiskID: "d-a1", GroupID: "ssg-a2", Tags: tagged("j-a")},
			{ID: "s-a2", DiskID: "d-a2", GroupID: "ssg-a", Tags: tagged("j-a")},
			{ID: "s-b1", DiskID: "d-b1", Tags: map[string]string{}},
			{ID: "s-d1", DiskID: "d-d1", Status: "failed", Tags: tagged("j-d")},
		},
		Groups: []ecsemu.GroupView{{ID: "ssg-a", InstanceID: "i-a"}, {ID: "ssg-a2", InstanceID: "i-a"}},
	}
	calls := []ecsemu.Call{
		{Action: "CreateSnapshotGroup", Committed: true, Params: map[string]string{"ClientToken": "j-a-group"}},
		{Action: "CreateSnapshotGroup", Committed: true, Replayed: true, Params: map[string]string{"ClientToken": "j-a-group"}},
		{Action: "CreateSnapshotGroup", Committed: true, Params: map[string]string{"ClientToken": "j-a-group"}},
		{Action: "CreateSnapshot", Fault: ecsemu.FaultThrottle, Params: map[string]string{"ClientToken": "j-d-d1"}},
	}
	results := []agentResult{
		{instance: "i-a", res: &job.Result{JobID: "j-a", Snapshots: []job.SnapshotResult{{DiskID: "d-a1", SnapshotID: "s-a1"}, {DiskID: "d-a2", SnapshotID: "s-a2"}}}},
		// Succeeded, but its snapshot lacks the job tag and it never
		// learned the ID.
		{instance: "i-b", res: &job.Result{JobID: "j-b", Snapshots: []job.SnapshotResult{{DiskID: "d-b1"}}}},
		// Succeeded, yet nothing exists for its disk, and it names a
		// snapshot of another disk.
		{instance: "i-c", res: &job.Result{JobID: "j-c", Snapshots: []job.SnapshotResult{{DiskID: "d-c1", SnapshotID: "s-b1"}}}},
		// Failed: its missing snapshot is the failure, not a finding.
		{instance: "i-d", res: &job.Result{JobID: "j-d", Snapshots: []job.SnapshotResult{{DiskID: "d-d1", SnapshotID: "s-d1"}}}, err: errors.New("boom")},
	}
	f := verify(results, st, calls)
	want := map[string][]string{
		"duplicates": {"CreateSnapshotGroup j-a-group took effect 2 times", "disk d-a1 of i-a has 2 snapshots", "instance i-a has 2 snapshot groups"},
		"missing": {"job j-b on i-b succeeded without the snapshot ID of d-b1", "job j-c on i-c reports s-b1 for d-c1, but it is of d-b1",
			"job j-c on i-c succeeded but disk d-c1 has no snapshot"},
		"untagged": {"snapshot s-b1 of d-b1 lacks ecssnap:job=j-b"},
		"failed":   {"snapshot s-d1 of d-d1 failed"},
	}
	got := map[string][]string{"duplicates": f.Duplicates, "missing": f.Missing, "untagged": f.Untagged, "failed": f.Failed}
	for kind, lines := range want {
		if len(got[kind]) != len(lines) {
			t.Errorf("%s = %q, want %d lines", kind, got[kind], len(lines))
			continue
		}
		for i, l := range lines {
			if !strings.HasPrefix(got[kind][i], l) {
				t.Errorf("%s[%d] = %q, want it to start with %q", kind, i, got[kind][i], l)
			}
		}
	}
	if f.OK() {
		t.Error("OK() with problems found")
	}

	// The clean case: one group per instance, one tagged snapshot per disk.
	clean := verify(results[:1], ecsemu.StateDump{
		Disks:     st.Disks[:2],
		Snapshots: []ecsemu.SnapshotView{st.Snapshots[0], st.Snapshots[2]},
		Groups:    st.Groups[:1],
	}, calls[:2])
	if !clean.OK() {
		t.Errorf("clean state: %+v", clean)
	}
}
