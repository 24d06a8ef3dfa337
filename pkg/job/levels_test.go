package job

import (
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/freeze"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

func TestProveFrozen(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	thawSent := t0.Add(300 * time.Millisecond)
	ops := func(thawAt time.Duration, err string) []freeze.Op {
		return []freeze.Op{{Kind: "freeze", Start: 0, End: time.Millisecond},
			{Kind: "thaw", Start: thawAt + time.Millisecond, End: thawAt + 2*time.Millisecond},
			{Kind: "thaw", Start: thawAt, End: thawAt + time.Millisecond, Err: err}}
	}
	notFrozen := "FITHAW: " + freeze.ErrNotFrozen.Error() + ": invalid argument"
	for _, tc := range []struct {
		name    string
		rep     freeze.Report
		through time.Time // zero: nothing proven
		early   bool
	}{
		{"request", freeze.Report{ThawReason: "request", Ops: ops(310*time.Millisecond, "")}, t0.Add(310 * time.Millisecond), false},
		// The helper's clock says it thawed before we asked: we asked later.
		{"request, thaw op offset early", freeze.Report{ThawReason: "request", Ops: ops(10*time.Millisecond, "")}, thawSent, false},
		{"deadline", freeze.Report{ThawReason: "deadline", Ops: ops(200*time.Millisecond, "")}, t0.Add(200 * time.Millisecond), true},
		{"signal, no thaw op", freeze.Report{ThawReason: "signal:terminated"}, time.Time{}, true},
		{"no report", freeze.Report{}, time.Time{}, true},
		{"thawed by another", freeze.Report{ThawReason: "request", Ops: ops(310*time.Millisecond, notFrozen)}, time.Time{}, true},
	} {
		p := proveFrozen(t0, thawSent, tc.rep)
		if !p.through.Equal(tc.through) || p.early != tc.early || tc.early && p.why == "" {
			t.Errorf("%s: %+v, want through %v early %v", tc.name, p, tc.through, tc.early)
		}
		if p.covers(time.Time{}) {
			t.Errorf("%s: covers an unanswered call", tc.name)
		}
	}
}

// A closure is as consistent as its weakest snapshot: the disks of the
// closure whose other member was answered after the thaw are lowered too,
// a disk outside it keeps its level.
func TestAssignLevelsClosure(t *testing.T) {
	r := &run{res: &Result{
		Plan:      &plan.Plan{Closures: []plan.Closure{{Disks: []string{"d-a", "d-b"}}}},
		Snapshots: []SnapshotResult{{DiskID: "d-a"}, {DiskID: "d-b"}, {DiskID: "d-c"}, {DiskID: "d-d"}},
		Creates: []CreateCall{
			{Kind: CreateDisk, DiskIDs: []string{"d-a"}, ID: "s-a"},
			{Kind: CreateDisk, DiskIDs: []string{"d-b"}, ID: "s-b"},
			{Kind: CreateDisk, DiskIDs: []string{"d-c"}, ID: "s-c"},
			{Kind: CreateDisk, DiskIDs: []string{"d-d"}}, // refused: no level
		},
	}}
	r.byDisk = map[string]*SnapshotResult{}
	for i := range r.res.Snapshots {
		r.byDisk[r.res.Snapshots[i].DiskID] = &r.res.Snapshots[i]
	}
	lowered := r.assignLevels(LevelFS, func(i int) bool { return i != 1 })
	got := map[string]string{}
	for _, s := range r.res.Snapshots {
		got[s.DiskID] = s.Consistency
	}
	want := map[string]string{"d-a": "crash", "d-b": "crash", "d-c": "fs", "d-d": ""}
	for d, l := range want {
		if got[d] != l {
			t.Errorf("%s: %q, want %q", d, got[d], l)
		}
	}
	if len(lowered) != 2 {
		t.Errorf("lowered %v", lowered)
	}
	if a := r.achieved(); a != LevelCrash {
		t.Errorf("achieved %s", a)
	}
}
