package restore_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/restore"
)

func TestMain(m *testing.M) {
	os.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

// quick is the default scenario with every step short, on the real clock.
func quick() *ecsemu.Scenario {
	sc := ecsemu.DefaultScenario()
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(100 * time.Millisecond)}
	d := ecsemu.Duration(50 * time.Millisecond)
	sc.Restore = ecsemu.Restore{DiskCreate: d, DiskAttach: d, DiskDetach: d, DiskReset: d, InstanceStop: d, InstanceStart: d, ImageCreate: d}
	return sc
}

func client(t *testing.T, env *ecsemutest.Env) *cloud.Client {
	t.Helper()
	cl, err := cloud.New(cloud.Config{Region: env.RegionID, Endpoint: env.APIURL,
		Credentials: cloud.NewStaticCredentials(env.AccessKeyID, env.AccessKeySecret),
		Retry:       cloud.RetryPolicy{Base: time.Millisecond, Max: 10 * time.Millisecond, Budget: 5 * time.Second, ThrottleBudget: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func opts() restore.Options {
	return restore.Options{PollMin: 20 * time.Millisecond, PollMax: 100 * time.Millisecond, Timeout: 30 * time.Second}
}

// fakeJob snapshots every disk of the instance with a job's tags, the way
// the engine tags them, and waits for them to finish.
func fakeJob(t *testing.T, cl *cloud.Client, env *ecsemutest.Env, id string) map[string]string {
	t.Helper()
	ctx := context.Background()
	disks, err := cl.DescribeDisks(ctx, env.InstanceID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range disks {
		snap, err := cl.CreateSnapshot(ctx, cloud.CreateSnapshotInput{DiskID: d.ID, ClientToken: id + d.ID,
			Tags: []cloud.Tag{{Key: job.TagManaged, Value: "true"}, {Key: job.TagJob, Value: id}}})
		if err != nil {
			t.Fatal(err)
		}
		out[d.ID] = snap
	}
	time.Sleep(150 * time.Millisecond) // the scenario's snapshot time
	return out
}

// crashAfter lets the named call take effect in the cloud, then fails as
// if the process died before it heard the answer.
type crashAfter struct {
	restore.Cloud
	action string
	n      int // crash on this call of action (1-based)
	seen   int
	check  func() // runs just before the real call
}

var errKilled = errors.New("killed")

func (c *crashAfter) hit(action string) bool {
	if action != c.action {
		return false
	}
	c.seen++
	if c.check != nil {
		c.check()
	}
	return c.seen == c.n
}

func (c *crashAfter) ResetDisks(ctx context.Context, pairs []cloud.ResetPair) ([]cloud.ResetResult, error) {
	crash := c.hit("ResetDisks")
	res, err := c.Cloud.ResetDisks(ctx, pairs)
	if crash {
		return nil, errKilled
	}
	return res, err
}

func (c *crashAfter) CreateSnapshot(ctx context.Context, in cloud.CreateSnapshotInput) (string, error) {
	crash := c.hit("CreateSnapshot")
	id, err := c.Cloud.CreateSnapshot(ctx, in)
	if crash {
		return "", errKilled
	}
	return id, err
}

// TestRollbackResumesAfterCrash kills a rollback right after ResetDisks took
// effect, then reruns it: the rerun finishes from the record, resets every
// disk only from the job's snapshot, reuses the safety snapshots, and a
// rollback of another job to the same instance is refused meanwhile.
func TestRollbackResumesAfterCrash(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(quick()))
	cl := client(t, env)
	ctx := context.Background()
	snaps := fakeJob(t, cl, env, "j-20261207-000000-00000001")
	j, err := restore.OpenJournal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	jobID := "j-20261207-000000-00000001"
	p, err := restore.PlanRollback(ctx, cl, j, jobID, env.InstanceID, env.RegionID, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	crash := &crashAfter{Cloud: cl, action: "ResetDisks", n: 1}
	crash.check = func() {
		// Recorded before the call: the journal on disk names it, unfinished.
		rec, ok, err := j.Get(restore.KindRollback, jobID)
		if err != nil || !ok {
			t.Fatalf("no record before ResetDisks: %v", err)
		}
		last := rec.Steps[len(rec.Steps)-1]
		if last.Action != "ResetDisks" || last.Done {
			t.Errorf("last recorded step before the call = %+v", last)
		}
	}
	if _, err := restore.Rollback(ctx, crash, j, p, opts()); !errors.Is(err, errKilled) {
		t.Fatalf("first run: %v, want the simulated crash", err)
	}
	if s, _ := env.Emu.InstanceStatus(env.InstanceID); s != "Stopped" {
		t.Fatalf("after the crash the instance is %s", s)
	}

	// Another job's rollback must wait for this one.
	time.Sleep(100 * time.Millisecond) // the resets the crash hid finish
	other := fakeJob(t, cl, env, "j-20261207-000000-00000002")
	_ = other
	_, err = restore.PlanRollback(ctx, cl, j, "j-20261207-000000-00000002", env.InstanceID, env.RegionID, true, nil)
	var ue *restore.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "unfinished") {
		t.Fatalf("rollback of another job during an unfinished one: %v", err)
	}

	p, err = restore.PlanRollback(ctx, cl, j, jobID, env.InstanceID, env.RegionID, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Resume == nil {
		t.Fatal("the rerun does not continue the recorded rollback")
	}
	rec, err := restore.Rollback(ctx, cl, j, p, opts())
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if rec.State != restore.StateDone {
		t.Fatalf("state %s", rec.State)
	}
	if s, _ := env.Emu.InstanceStatus(env.InstanceID); s != "Running" {
		t.Fatalf("instance is %s", s)
	}
	for disk, snap := range snaps {
		v, _ := env.Emu.DiskRestore(disk)
		if len(v.ResetFrom) == 0 || slices.ContainsFunc(v.ResetFrom, func(s string) bool { return s != snap }) {
			t.Errorf("disk %s reset from %v, want only %s", disk, v.ResetFrom, snap)
		}
	}
	safety := 0
	for _, s := range env.Emu.Snapshots() {
		if s.Tags[restore.TagRollbackOf] == jobID {
			safety++
		}
	}
	if safety != len(snaps) {
		t.Errorf("%d safety snapshots, want %d (one per disk, reused by the rerun)", safety, len(snaps))
	}
}

// TestRollbackCrashDuringSafety: a crash right after a safety snapshot was
// created: the rerun repeats the create with the recorded token and gets
// the same snapshot, not a second one.
func TestRollbackCrashDuringSafety(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(quick()))
	cl := client(t, env)
	ctx := context.Background()
	jobID := "j-20261207-000000-00000003"
	fakeJob(t, cl, env, jobID)
	j, _ := restore.OpenJournal(t.TempDir(), nil)
	p, err := restore.PlanRollback(ctx, cl, j, jobID, env.InstanceID, env.RegionID, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restore.Rollback(ctx, &crashAfter{Cloud: cl, action: "CreateSnapshot", n: 1}, j, p, opts()); !errors.Is(err, errKilled) {
		t.Fatalf("first run: %v", err)
	}
	p, err = restore.PlanRollback(ctx, cl, j, jobID, env.InstanceID, env.RegionID, true, nil)
	if err != nil || p.Resume == nil {
		t.Fatalf("replan: %v, resume %v", err, p != nil && p.Resume != nil)
	}
	if _, err := restore.Rollback(ctx, cl, j, p, opts()); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range env.Emu.Snapshots() {
		if s.Tags[restore.TagRollbackOf] == jobID {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d safety snapshots, want 2", n)
	}
}

// TestRollbackResetRefusedPerDisk: when ResetDisks refuses one disk, the
// rollback stops with the instance Stopped and says which disk and why.
func TestRollbackResetRefusedPerDisk(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(quick()))
	cl := client(t, env)
	ctx := context.Background()
	jobID := "j-20261207-000000-00000004"
	snaps := fakeJob(t, cl, env, jobID)
	j, _ := restore.OpenJournal(t.TempDir(), nil)
	p, err := restore.PlanRollback(ctx, cl, j, jobID, env.InstanceID, env.RegionID, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Fail the data disk's snapshot after planning: the reset of it is refused.
	if err := env.Emu.FailSnapshot(snaps[ecsemu.DefaultDataDiskID]); err != nil {
		t.Fatal(err)
	}
	_, err = restore.Rollback(ctx, cl, j, p, opts())
	if err == nil || !strings.Contains(err.Error(), ecsemu.DefaultDataDiskID) || !strings.Contains(err.Error(), "left Stopped") {
		t.Fatalf("err = %v", err)
	}
	if s, _ := env.Emu.InstanceStatus(env.InstanceID); s != "Stopped" {
		t.Errorf("instance is %s", s)
	}
}

// TestRollbackRefusesUnfinishedSnapshot: a job disk with a snapshot still
// being created cannot be reset, so the plan refuses before anything stops.
func TestRollbackRefusesUnfinishedSnapshot(t *testing.T) {
	sc := quick()
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1, Minimum: ecsemu.Duration(time.Hour)}
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	cl := client(t, env)
	jobID := "j-20261207-000000-00000005"
	fakeJob(t, cl, env, jobID)
	j, _ := restore.OpenJournal(t.TempDir(), nil)
	_, err := restore.PlanRollback(context.Background(), cl, j, jobID, env.InstanceID, env.RegionID, true, nil)
	var ue *restore.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "still being created") {
		t.Fatalf("err = %v", err)
	}
	if env.Emu.StoppedMode(env.InstanceID) != "" {
		t.Error("the instance was stopped")
	}
}
