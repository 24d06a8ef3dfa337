package ecsemu_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/pkg/ecsemu/dataplane"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/testenv"
	"github.com/ecssnap/ecssnap/pkg/topology"
)

// AttachDisk of a disk made from a snapshot makes its loop device appear
// in the guest view under its serial, as the product finds disks;
// DetachDisk makes it go.
func TestRootDataPlaneAttachShowsInGuestView(t *testing.T) {
	testenv.RequireRoot(t)
	for _, dev := range []string{"/dev/fuse", "/dev/loop-control"} {
		if _, err := os.Stat(dev); err != nil {
			testenv.Unavailable(t, dev+" is missing")
		}
	}
	p, err := dataplane.New(dataplane.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Serve(); err != nil {
		t.Fatal(err)
	}
	view := filepath.Join(t.TempDir(), "guest")
	if err := p.KeepGuestView(view, nil); err != nil {
		t.Fatal(err)
	}
	// CreateDisk wants at least 20 GiB for PL1; the images are sparse.
	env, clock, c := startVirtual(t, ecsemutest.WithScenario(manyDisks(1, 20)), ecsemutest.WithDataPlane(p))
	snap := createSnapshot(t, c, diskID(0), nil)
	finished(clock)
	clone, err := createDisk(c, snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	finished(clock)
	diskStatus(t, c, clone)
	att := ecs.CreateAttachDiskRequest()
	att.InstanceId, att.DiskId = env.InstanceID, clone
	if _, err := c.AttachDisk(att); err != nil {
		t.Fatal(err)
	}
	finished(clock)
	serial := diskStatus(t, c, clone).SerialNumber
	if p.Device(clone) == "" {
		t.Fatal("the attached disk has no loop device")
	}
	if !viewHasSerial(t, view, serial) {
		t.Fatalf("serial %s of the attached disk is not in the guest view", serial)
	}
	det := ecs.CreateDetachDiskRequest()
	det.InstanceId, det.DiskId = env.InstanceID, clone
	if _, err := c.DetachDisk(det); err != nil {
		t.Fatal(err)
	}
	finished(clock)
	diskStatus(t, c, clone)
	if p.Device(clone) != "" || viewHasSerial(t, view, serial) {
		t.Fatal("the detached disk is still attached in the data plane or the guest view")
	}
}

func viewHasSerial(t *testing.T, root, serial string) bool {
	t.Helper()
	topo, err := topology.New(root).Discover()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range topo.Disks() {
		if d.Serial == serial {
			return true
		}
	}
	return false
}
