package ecsemu_test

import (
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
