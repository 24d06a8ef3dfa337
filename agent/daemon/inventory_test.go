package daemon

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// Plans are answered from the daemon's inventory: many at once, and while
// a job runs, cost one DescribeDisks, and share the inventory safely (run
// with -race).
func TestPlansShareTheInventory(t *testing.T) {
	d := startDaemon(t, quick())
	describes := func() int {
		n := 0
		for _, c := range d.env.Emu.Calls() {
			if c.Action == "DescribeDisks" {
				n++
			}
		}
		return n
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := d.client.Plan(ctx, localapi.PlanRequest{Disks: plan.Selection{Kind: "all"}}); err != nil {
				t.Errorf("plan: %v", err)
			}
		})
	}
	wg.Wait()
	if n := describes(); n != 1 {
		t.Fatalf("20 plans made %d DescribeDisks calls, want 1", n)
	}
	// A job reads a fresh inventory, and plans during and after it use it.
	wg.Go(func() {
		if _, err := d.client.CreateJob(ctx, localapi.CreateJobRequest{Trigger: "manual", Disks: plan.Selection{Kind: "data"},
			Consistency: "crash", Wait: localapi.WaitCompleted}); err != nil {
			t.Errorf("job: %v", err)
		}
	})
	for range 10 {
		wg.Go(func() {
			if _, err := d.client.Plan(ctx, localapi.PlanRequest{Disks: plan.Selection{Kind: "data"}}); err != nil {
				t.Errorf("plan: %v", err)
			}
		})
	}
	wg.Wait()
	if n := describes(); n != 2 {
		t.Errorf("after a job and 10 more plans: %d DescribeDisks calls, want 2 (one fresh for the job)", n)
	}
	// Stale after inventoryTTL: the next plan reads it again.
	d.now.Advance(inventoryTTL + time.Second)
	if _, err := d.client.Disks(ctx); err != nil {
		t.Fatal(err)
	}
	if n := describes(); n != 3 {
		t.Errorf("a stale inventory was served: %d DescribeDisks calls, want 3", n)
	}
}
