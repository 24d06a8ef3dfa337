package ecsemu_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/dataplane"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// dataPlaneScenario has two 1 GiB ESSD disks whose snapshots copy at
// 100 MiB/s, at least 1 s.
func dataPlaneScenario() *ecsemu.Scenario {
	sc := manyDisks(2, 1)
	sc.Speed = ecsemu.Speed{MiBPerSecond: 100, Minimum: ecsemu.Duration(time.Second)}
	return sc
}

func startDataPlane(t *testing.T) (*ecsemutest.Env, *ecsemu.VirtualClock, *ecs.Client, *dataplane.Plane) {
	t.Helper()
	p, err := dataplane.New(dataplane.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	env, clock, c := startVirtual(t, ecsemutest.WithScenario(dataPlaneScenario()), ecsemutest.WithDataPlane(p))
	return env, clock, c, p
}

// With a data plane every disk has an image, a group's members are
// captured at one instant, and a deleted snapshot's bytes go.
func TestDataPlaneGroupCapturesAtOneInstant(t *testing.T) {
	env, _, c, p := startDataPlane(t)
	if got := p.Disks(); len(got) != 2 || got[0] != diskID(0) || got[1] != diskID(1) {
		t.Fatalf("data plane disks = %v, want the scenario's two", got)
	}
	req := ecs.CreateCreateSnapshotGroupRequest()
	req.InstanceId = env.InstanceID
	req.DiskId = &[]string{diskID(0), diskID(1)}
	resp, err := c.CreateSnapshotGroup(req)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := describeGroup(t, c, resp.SnapshotGroupId)
	var at []time.Time
	for _, m := range g.Snapshots.Snapshot {
		s, err := p.Snapshot(m.SnapshotId)
		if err != nil {
			t.Fatalf("group member %s has no bytes: %v", m.SnapshotId, err)
		}
		at = append(at, s.At)
	}
	if len(at) != 2 || !at[0].Equal(at[1]) {
		t.Fatalf("members captured at %v, want one instant", at)
	}
	del := ecs.CreateDeleteSnapshotGroupRequest()
	del.SnapshotGroupId = resp.SnapshotGroupId
	if _, err := c.DeleteSnapshotGroup(del); err != nil {
		t.Fatal(err)
	}
	for _, m := range g.Snapshots.Snapshot {
		if _, err := p.Snapshot(m.SnapshotId); err == nil {
			t.Errorf("deleted snapshot %s still has bytes", m.SnapshotId)
		}
	}
}

// Progress follows the bytes: a disk's first snapshot copies the whole
// disk (1 GiB at 100 MiB/s: 10.24 s), the next one only what changed
// (nothing: the minimum, 1 s).
func TestDataPlaneProgressFollowsBytes(t *testing.T) {
	_, clock, c, _ := startDataPlane(t)
	first := createSnapshot(t, c, diskID(0), nil)
	clock.Advance(5 * time.Second)
	if s, _ := describeSnapshot(t, c, first); s.Status != "progressing" || s.Progress != "48%" {
		t.Fatalf("first snapshot after 5 s: %s %s, want progressing 48%% (5 s of 10.24)", s.Status, s.Progress)
	}
	clock.Advance(6 * time.Second)
	if s, _ := describeSnapshot(t, c, first); s.Status != "accomplished" {
		t.Fatalf("first snapshot after 11 s: %s", s.Status)
	}
	second := createSnapshot(t, c, diskID(0), nil)
	clock.Advance(1100 * time.Millisecond)
	if s, _ := describeSnapshot(t, c, second); s.Status != "accomplished" {
		t.Fatalf("snapshot of an unchanged disk after 1.1 s: %s %s, want accomplished (nothing to copy)", s.Status, s.Progress)
	}
}

// The admin API makes a disk from a snapshot's bytes, pauses and resumes
// a disk, and refuses plainly without a data plane or with unknown IDs.
// (Attaching needs root and FUSE: the root tests of the data plane and of
// ecssnap-emu --data-dir cover it.)
func TestDataPlaneAdmin(t *testing.T) {
	env, _, c, p := startDataPlane(t)
	snap := createSnapshot(t, c, diskID(0), nil)
	// Not served (no FUSE here): the disk is made, the attach refused.
	if code := admin(t, env, "POST", "/v1/dataplane/disks", `{"id":"d-clone","snapshot_id":"`+snap+`"}`, nil); code != 400 {
		t.Errorf("new disk without FUSE: %d, want 400 (not serving)", code)
	}
	if !p.HasDisk("d-clone") {
		t.Error("the disk from the snapshot was not made")
	}
	if code := admin(t, env, "POST", "/v1/dataplane/disks", `{"id":"d-x","snapshot_id":"s-none"}`, nil); code != 404 {
		t.Errorf("new disk from a missing snapshot: %d, want 404", code)
	}
	if code := admin(t, env, "POST", "/v1/dataplane/disks", `{"id":"d-clone","snapshot_id":"`+snap+`"}`, nil); code != 409 {
		t.Errorf("second disk of one ID: %d, want 409", code)
	}
	for _, step := range []string{"pause", "pause", "resume", "resume"} {
		if code := admin(t, env, "POST", "/v1/dataplane/disks/"+diskID(1)+"/"+step, "", nil); code != 200 {
			t.Errorf("%s: %d", step, code)
		}
	}
	if code := admin(t, env, "POST", "/v1/dataplane/disks/"+diskID(1)+"/pause", "", nil); code != 200 {
		t.Fatal(code)
	}
	var disks []map[string]any
	if admin(t, env, "GET", "/v1/dataplane/disks", "", &disks) != 200 || len(disks) != 3 || disks[2]["paused"] != true {
		t.Errorf("disks = %v", disks)
	}
	p.Resume(diskID(1))
	if code := admin(t, env, "DELETE", "/v1/dataplane/disks/d-clone", "", nil); code != 200 || p.HasDisk("d-clone") {
		t.Errorf("delete: %d", code)
	}
	if code := admin(t, env, "POST", "/v1/dataplane/disks/d-none/pause", "", nil); code != 404 {
		t.Errorf("pause of a missing disk: %d, want 404", code)
	}

	bare, _, _ := startVirtual(t)
	if code := admin(t, bare, "GET", "/v1/dataplane/disks", "", nil); code != 400 {
		t.Errorf("without a data plane: %d, want 400", code)
	}
}

// The disk lifecycle calls act on the bytes: CreateDisk from a snapshot
// makes a disk holding the snapshot's bytes, ResetDisk on the stopped
// instance rewinds a disk to them, DeleteDisk removes them.
func TestDataPlaneDiskLifecycleBytes(t *testing.T) {
	p, err := dataplane.New(dataplane.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	env, clock, c := startVirtual(t, ecsemutest.WithDataPlane(p))
	data := ecsemu.DefaultDataDiskID
	img, err := p.Image(data)
	if err != nil {
		t.Fatal(err)
	}
	writeImage(t, img, "before the snapshot")
	snap := createSnapshot(t, c, data, nil)
	// Behind the gate (no FUSE here), so only once the copy is done.
	if s, err := p.Snapshot(snap); err != nil || s.Wait(context.Background()) != nil {
		t.Fatalf("snapshot bytes: %v", err)
	}
	writeImage(t, img, "after the snapshot!")
	finished(clock)

	clone, err := createDisk(c, snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	finished(clock)
	diskStatus(t, c, clone) // settles the creation
	cloneImg, err := p.Image(clone)
	if err != nil {
		t.Fatalf("the disk made from %s has no bytes: %v", snap, err)
	}
	if got := readImage(t, cloneImg); got != "before the snapshot" {
		t.Errorf("disk from the snapshot holds %q", got)
	}

	stop := ecs.CreateStopInstanceRequest()
	stop.InstanceId = env.InstanceID
	if _, err := c.StopInstance(stop); err != nil {
		t.Fatal(err)
	}
	finished(clock)
	instanceStatus(t, c, env.InstanceID)
	reset := ecs.CreateResetDiskRequest()
	reset.DiskId, reset.SnapshotId = data, snap
	if _, err := c.ResetDisk(reset); err != nil {
		t.Fatal(err)
	}
	if got := readImage(t, img); got != "before the snapshot" {
		t.Errorf("reset disk holds %q", got)
	}

	del := ecs.CreateDeleteDiskRequest()
	del.DiskId = clone
	if _, err := c.DeleteDisk(del); err != nil {
		t.Fatal(err)
	}
	if p.HasDisk(clone) {
		t.Error("deleted disk still has bytes")
	}
}

func writeImage(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(s), 4096); err != nil {
		t.Fatal(err)
	}
}

func readImage(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, len("before the snapshot"))
	if _, err := f.ReadAt(b, 4096); err != nil {
		t.Fatal(err)
	}
	return string(b)
}
