package job_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// keptView is a warm view as the daemon keeps one: an inventory read
// earlier, trusted until a create proves it stale.
type keptView struct {
	mu    sync.Mutex
	inv   *job.Inventory
	stale []string
}

func (v *keptView) Current(string) *job.Inventory {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.stale) > 0 {
		return nil
	}
	return v.inv
}

func (v *keptView) Room(string, int) bool { return true }

func (v *keptView) Stale(why string) {
	v.mu.Lock()
	v.stale = append(v.stale, why)
	v.mu.Unlock()
}

// A job planned from the warm view makes no call before its create; when a
// data disk was detached after the view was read, the group create naming
// it fails, and the job reads the inventory anew, plans again without the
// disk, says so, and creates the snapshots of the disks still attached.
func TestWarmViewReplansWhenADiskWasDetached(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(fastScenario()))
	eng, ev := newEngine(t, env, cloud.RetryPolicy{})
	inv, err := eng.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	view := &keptView{inv: inv}
	eng.Warm = view

	// Unchanged world: the create is the job's first call. (It waits, so
	// that the one-task-at-a-time disk is free for the next job.)
	env.Emu.ResetCalls()
	res, err := eng.Run(context.Background(), job.Request{Disks: plan.Selection{Kind: "all"}, Consistency: job.LevelCrash, Wait: true})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !res.WarmView || res.Replanned != "" {
		t.Fatalf("warm_view = %v, replanned = %q; want the warm view used as it was", res.WarmView, res.Replanned)
	}
	if calls := env.Emu.Calls(); len(calls) == 0 || !strings.HasPrefix(calls[0].Action, "Create") {
		t.Fatalf("first call of a job from the warm view = %v, want a create", calls)
	}

	// Someone detaches the data disk; the view does not know.
	if err := env.Emu.DetachDisk(ecsemu.DefaultDataDiskID); err != nil {
		t.Fatal(err)
	}
	env.Emu.ResetCalls()
	res, err = eng.Run(context.Background(), job.Request{Disks: plan.Selection{Kind: "all"}, Consistency: job.LevelCrash})
	if err != nil {
		t.Fatalf("Run after the detach: %v (result %+v)", err, res)
	}
	if !res.WarmView || !strings.Contains(res.Replanned, "stale") {
		t.Errorf("warm_view = %v, replanned = %q; want the stale view reported", res.WarmView, res.Replanned)
	}
	if len(view.stale) != 1 {
		t.Errorf("the view was marked stale %d times, want once", len(view.stale))
	}
	var disks []string
	for _, s := range res.Snapshots {
		if s.SnapshotID == "" && res.GroupID == "" {
			t.Errorf("%s has no snapshot", s.DiskID)
		}
		disks = append(disks, s.DiskID)
	}
	if slices.Contains(disks, ecsemu.DefaultDataDiskID) || !slices.Contains(disks, ecsemu.DefaultSystemDiskID) {
		t.Errorf("snapshots of %v, want the attached disks without the detached one", disks)
	}
	var actions []string
	for _, c := range env.Emu.Calls() {
		actions = append(actions, c.Action)
	}
	// The refused create, then a fresh inventory, then the creates again.
	first := slices.Index(actions, "DescribeDisks")
	if first < 1 || !strings.HasPrefix(actions[0], "Create") || committedCreates(env)["CreateSnapshotGroup"]+committedCreates(env)["CreateSnapshot"] == 0 {
		t.Errorf("calls = %v, want a refused create, DescribeDisks, then creates", actions)
	}
	if !slices.Contains(ev.types(), "replan") {
		t.Errorf("events %v have no replan", ev.types())
	}
}
