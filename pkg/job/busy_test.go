package job_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

const (
	busyDisk = "d-bp1busyeff000000001" // cloud_efficiency: one snapshot at a time
	busyTake = 1500 * time.Millisecond // how long every snapshot takes
)

// busyEnv is an instance whose data disk allows one snapshot at a time and
// has one still being created (by someone else) when the job starts.
// Every snapshot takes take.
func busyEnv(t *testing.T, take time.Duration) (*ecsemutest.Env, string) {
	t.Helper()
	env := oneDiskEnv(t, busyDisk, "cloud_efficiency", take)
	return env, startSnapshots(t, env, busyDisk, 1)[0]
}

// oneDiskEnv is an instance with one data disk of category, whose every
// snapshot takes take.
func oneDiskEnv(t *testing.T, disk, category string, take time.Duration) *ecsemutest.Env {
	t.Helper()
	sc := ecsemu.DefaultScenario()
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(take)}
	sc.Disks = []ecsemu.Disk{{ID: disk, Serial: "-", Category: category, Type: "data", SizeGiB: 20}}
	return ecsemutest.Start(t, ecsemutest.WithScenario(sc))
}

// startSnapshots starts n snapshots of disk, as someone else would, and
// returns their IDs.
func startSnapshots(t *testing.T, env *ecsemutest.Env, disk string, n int) []string {
	t.Helper()
	c := emuClient(t, env)
	ids := make([]string, n)
	for i := range ids {
		id, err := c.CreateSnapshot(context.Background(), cloud.CreateSnapshotInput{DiskID: disk, Name: "someone-else",
			ClientToken: fmt.Sprintf("other-%s-%d", t.Name(), i)})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	return ids
}

// A snapshot still running on a one-at-a-time disk refuses the job before
// any create: the error says so (the disk, the running snapshot), no
// create is sent, no snapshot is reported as being created, the job
// reached no level, and it is a temporary failure.
func TestBusyDiskRefusedInPreflight(t *testing.T) {
	env, running := busyEnv(t, time.Minute)
	eng, _ := newEngine(t, env, cloud.RetryPolicy{})
	res, err := eng.Run(context.Background(), job.Request{Disks: plan.Selection{Kind: "all"}})
	var busy *job.BusyDiskError
	if !errors.As(err, &busy) {
		t.Fatalf("err = %v, want a BusyDiskError", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "CreateSnapshot") || !strings.Contains(msg, busyDisk) || !strings.Contains(msg, running) || !strings.Contains(msg, "nothing was created") {
		t.Errorf("message %q", msg)
	}
	if job.Classify(err) != job.ClassTemporary {
		t.Errorf("class %s", job.Classify(err))
	}
	if n := committedCreates(env)["CreateSnapshot"]; n != 1 { // the other one
		t.Errorf("%d CreateSnapshot committed, want only the running one", n)
	}
	for _, s := range res.Snapshots {
		if s.State != job.StateNotCreated || s.SnapshotID != "" {
			t.Errorf("%s: %+v", s.DiskID, s)
		}
	}
	if res.Consistency != "" || res.Outcome != "failed" || res.FailedIn != job.PhasePreflight || res.Timings.ToCreatedMS != 0 {
		t.Errorf("consistency %q, outcome %s, failed in %q, to-created %d", res.Consistency, res.Outcome, res.FailedIn, res.Timings.ToCreatedMS)
	}
}

// With --wait the job waits for the running snapshot, with progress
// events, and then takes its own.
func TestBusyDiskWaitedFor(t *testing.T) {
	env, running := busyEnv(t, busyTake)
	eng, ev := newEngine(t, env, cloud.RetryPolicy{})
	res, err := eng.Run(context.Background(), job.Request{Disks: plan.Selection{Kind: "all"}, Wait: true, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Outcome != "succeeded" || res.Snapshots[0].State != job.StateAccomplished || res.Timings.BlockedMS <= 0 {
		t.Errorf("outcome %s, snapshot %+v, blocked %d ms", res.Outcome, res.Snapshots[0], res.Timings.BlockedMS)
	}
	blocked := false
	ev.mu.Lock()
	for _, e := range ev.all {
		if e.Type == "blocked" && e.SnapshotID == running && e.DiskID == busyDisk {
			blocked = true
		}
	}
	ev.mu.Unlock()
	if !blocked {
		t.Errorf("no blocked event for %s: %v", running, ev.types())
	}
	// The job's create came only after the running snapshot was done:
	// no refused create on the way.
	for _, c := range env.Emu.Calls() {
		if c.Action == "CreateSnapshot" && c.Code != "" {
			t.Errorf("a create was refused: %s", c.Code)
		}
	}
}

// The wait for someone else's snapshot is bounded by the job's timeout.
func TestBusyDiskWaitBounded(t *testing.T) {
	env, running := busyEnv(t, time.Minute)
	eng, _ := newEngine(t, env, cloud.RetryPolicy{})
	start := time.Now()
	res, err := eng.Run(context.Background(), job.Request{Disks: plan.Selection{Kind: "all"}, Wait: true, Timeout: 200 * time.Millisecond})
	var busy *job.BusyDiskError
	if !errors.As(err, &busy) || !strings.Contains(err.Error(), running) || !strings.Contains(err.Error(), "waited") {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("gave up after %v; the timeout was 200ms", took)
	}
	if n := committedCreates(env)["CreateSnapshot"]; n != 1 || res.Snapshots[0].State != job.StateNotCreated {
		t.Errorf("%d creates, snapshot %+v", n, res.Snapshots[0])
	}
}

// The job's timeout is one budget: waiting for the snapshot in the way
// leaves less time to wait for the job's own.
func TestBusyDiskWaitSharesTimeout(t *testing.T) {
	env, _ := busyEnv(t, busyTake)
	eng, _ := newEngine(t, env, cloud.RetryPolicy{})
	const timeout = 2 * time.Second // the other snapshot takes 1.5 s, ours 1.5 s more
	start := time.Now()
	_, err := eng.Run(context.Background(), job.Request{Disks: plan.Selection{Kind: "all"}, Wait: true, Timeout: timeout})
	var (
		timedOut *job.WaitTimeoutError
		busy     *job.BusyDiskError
	)
	if !errors.As(err, &timedOut) && !errors.As(err, &busy) {
		t.Fatalf("err = %v, want the job's timeout to end it", err)
	}
	if took := time.Since(start); took > timeout+time.Second {
		t.Errorf("the job took %v with a timeout of %v", took, timeout)
	}
}

// An ESSD-family disk runs up to 10 snapshots at once; with 10 still being
// created the API refuses the 11th (IncorrectDiskStatus.CreatingSnapshot).
// Found by running snapshot-now every 0.6 s against the default scenario:
// the eleventh job failed at its create. The job is refused before any
// create instead, naming the disk and the snapshot to wait for (the one
// furthest along; --wait waits for it as for a one-at-a-time disk's).
func TestESSDDiskAtItsConcurrentLimit(t *testing.T) {
	const disk = "d-bp1busyessd00000001"
	env := oneDiskEnv(t, disk, "cloud_essd", time.Minute)
	startSnapshots(t, env, disk, 9)
	eng, _ := newEngine(t, env, cloud.RetryPolicy{})
	if _, err := eng.Run(context.Background(), job.Request{Disks: plan.Selection{Kind: "all"}}); err != nil {
		t.Fatalf("with 9 snapshots of the disk under way the job must run: %v", err)
	}
	before := createCalls(env)
	res, err := eng.Run(context.Background(), job.Request{Disks: plan.Selection{Kind: "all"}})
	var busy *job.BusyDiskError
	if !errors.As(err, &busy) || len(busy.Busy) != 1 || busy.Busy[0].DiskID != disk {
		t.Fatalf("with 10 under way: err = %v, want a BusyDiskError for %s", err, disk)
	}
	if msg := err.Error(); !strings.Contains(msg, "10 snapshots at a time") || !strings.Contains(msg, busy.Busy[0].SnapshotID) {
		t.Errorf("message %q", msg)
	}
	if n := createCalls(env) - before; n != 0 || res.CreatedCount() != 0 {
		t.Errorf("%d create calls sent, %d snapshots created; want none", n, res.CreatedCount())
	}
}

// createCalls counts the create calls the emulator received.
func createCalls(env *ecsemutest.Env) int {
	n := 0
	for _, c := range env.Emu.Calls() {
		if strings.HasPrefix(c.Action, "Create") {
			n++
		}
	}
	return n
}
