package cloud_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

func TestMain(m *testing.M) {
	// The default chain must never try the real metadata address from a
	// test, except in the child that proxies it to the emulator.
	if os.Getenv(childTest) != "TestRAMRoleRotationChild" {
		os.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	}
	os.Exit(m.Run())
}

func staticClient(t *testing.T, env *ecsemutest.Env) *cloud.Client {
	t.Helper()
	creds := cloud.NewStaticCredentials(env.AccessKeyID, env.AccessKeySecret)
	cl, err := cloud.New(cloud.Config{Region: env.RegionID, Endpoint: env.APIURL, Credentials: creds,
		Retry: cloud.RetryPolicy{Base: time.Millisecond, Max: 10 * time.Millisecond, Budget: 5 * time.Second, ThrottleBudget: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func countCalls(e *ecsemu.Emulator, action string) int {
	n := 0
	for _, c := range e.Calls() {
		if c.Action == action {
			n++
		}
	}
	return n
}

func TestDescribeDisksFollowsNextToken(t *testing.T) {
	sc := ecsemu.DefaultScenario()
	for i := range 248 {
		sc.Disks = append(sc.Disks, ecsemu.Disk{ID: fmt.Sprintf("d-bp1page%012d", i), Serial: fmt.Sprintf("bp1page%012d", i),
			Category: "cloud_essd", Type: "data", SizeGiB: 20})
	}
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	cl := staticClient(t, env)
	disks, err := cl.DescribeDisks(context.Background(), env.InstanceID)
	if err != nil {
		t.Fatal(err)
	}
	if len(disks) != 250 {
		t.Fatalf("got %d disks, want 250", len(disks))
	}
	seen := map[string]bool{}
	for _, d := range disks {
		if seen[d.ID] {
			t.Errorf("disk %s listed twice", d.ID)
		}
		seen[d.ID] = true
	}
	if n := countCalls(env.Emu, "DescribeDisks"); n != 3 {
		t.Errorf("%d DescribeDisks calls for 250 disks at 100 per page, want 3", n)
	}
}

func TestDescribeSnapshotsBatches(t *testing.T) {
	sc := ecsemu.DefaultScenario()
	sc.Quota.ManualSnapshotsPerDisk = 256
	var ids []string
	for i := range 150 {
		id := fmt.Sprintf("s-bp1batch%011d", i)
		ids = append(ids, id)
		sc.Snapshots = append(sc.Snapshots, ecsemu.Snapshot{ID: id, DiskID: sc.Disks[i%2].ID, Status: "accomplished"})
	}
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	cl := staticClient(t, env)
	snaps, err := cl.DescribeSnapshots(context.Background(), append(ids, "s-bp1doesnotexist"))
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 150 {
		t.Errorf("got %d snapshots, want 150 (the unknown ID is simply absent)", len(snaps))
	}
	if n := countCalls(env.Emu, "DescribeSnapshots"); n != 2 {
		t.Errorf("%d DescribeSnapshots calls for 151 IDs, want 2", n)
	}
	for _, s := range snaps {
		if s.Status != cloud.StatusAccomplished || s.Progress != 100 || s.DiskID == "" || s.Created.IsZero() {
			t.Errorf("snapshot %+v", s)
			break
		}
	}
}

func TestCreateRepeatsTokenAfterDrop(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithFaults(ecsemu.Faults{DropRate: 1, Actions: []string{"CreateSnapshot"}}))
	cl := staticClient(t, env)
	in := cloud.CreateSnapshotInput{DiskID: ecsemu.DefaultDataDiskID, Name: "ecssnap-test", Description: "ecssnap: test", ClientToken: "tok-drop-1"}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := cl.CreateSnapshot(ctx, in)
	if cloud.KindOf(err) != cloud.KindTransport {
		t.Fatalf("every response cut: err = %v, want a transport error", err)
	}
	env.Emu.SetFaults(ecsemu.Faults{})
	id, err := cl.CreateSnapshot(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	committed := 0
	for _, c := range env.Emu.Calls() {
		if c.Action == "CreateSnapshot" && c.Committed && !c.Replayed {
			committed++
		}
	}
	if committed != 1 || id == "" {
		t.Errorf("snapshot %q, %d committed creates: want exactly one", id, committed)
	}
}

func TestThrottlingIsRetriedThenGivenUp(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithFaults(ecsemu.Faults{ThrottleRate: 1}))
	cl := staticClient(t, env)
	start := time.Now()
	_, err := cl.DescribeDisks(context.Background(), env.InstanceID)
	var ae *cloud.APIError
	if !errors.As(err, &ae) || ae.Kind != cloud.KindThrottled {
		t.Fatalf("err = %v, want throttling", err)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("gave up after %v, budget was 5 s", d)
	}
	if cl.RetryCount() < 3 {
		t.Errorf("%d retries under constant throttling", cl.RetryCount())
	}
}

func TestNotFoundAndPanicSafety(t *testing.T) {
	env := ecsemutest.Start(t)
	cl := staticClient(t, env)
	_, err := cl.CreateSnapshot(context.Background(), cloud.CreateSnapshotInput{DiskID: "d-bp1nosuchdisk", Name: "ecssnap-x", Description: "ecssnap", ClientToken: "t-404"})
	if cloud.KindOf(err) != cloud.KindNotFound {
		t.Fatalf("err = %v, want not found", err)
	}
	if _, err := cl.CreateSnapshot(context.Background(), cloud.CreateSnapshotInput{DiskID: "d-x"}); err == nil {
		t.Error("a create without ClientToken was sent")
	}
}
