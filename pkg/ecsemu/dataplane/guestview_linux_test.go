package dataplane

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/testenv"
	"github.com/ecssnap/ecssnap/pkg/topology"
)

// The product's own topology reader, pointed at the guest view, sees the
// data-plane disks as virtio disks with their serials, and a btrfs
// filesystem mounted across two of them as living on both.
func TestRootGuestViewTopology(t *testing.T) {
	requireHost(t)
	testenv.RequireTool(t, "mkfs.btrfs")
	p := servedPlane(t)
	var devs []string
	for _, id := range []string{"d-gva", "d-gvb"} {
		if err := p.AddDisk(id, 256<<20); err != nil {
			t.Fatal(err)
		}
		dev, err := p.Attach(id)
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, dev)
	}
	run(t, "mkfs.btrfs", "-q", "-f", "-d", "raid0", "-m", "raid1", devs[0], devs[1])
	mnt := t.TempDir()
	if err := syscall.Mount(devs[0], mnt, "btrfs", 0, "device="+devs[1]); err != nil {
		t.Fatal(err)
	}
	defer syscall.Unmount(mnt, 0)
	root := filepath.Join(t.TempDir(), "guest")
	gd, err := p.WriteGuestView(root, map[string]string{"d-gva": "gva", "d-gvb": "gvb", "d-absent": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(gd) != 2 || gd[0].Name != "vdb" || gd[1].Name != "vdc" {
		t.Fatalf("guest disks = %+v", gd)
	}
	topo, err := topology.New(root).Discover()
	if err != nil {
		t.Fatal(err)
	}
	serials := map[string]string{}
	for _, d := range topo.Disks() {
		serials[d.Name] = d.Serial
	}
	if serials["vdb"] != "gva" || serials["vdc"] != "gvb" || len(serials) != 2 {
		t.Fatalf("disks in the view: %v, want vdb=gva vdc=gvb", serials)
	}
	var found bool
	for _, m := range topo.Mounts {
		if m.MountPoint != mnt {
			continue
		}
		found = true
		under, err := topo.DisksUnder(m)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(under)
		if !slices.Equal(under, []string{"vdb", "vdc"}) {
			t.Errorf("btrfs at %s is on %v, want [vdb vdc]", mnt, under)
		}
	}
	if !found {
		t.Fatalf("the mount %s is not in the view's mountinfo", mnt)
	}
	if target, err := os.Readlink(filepath.Join(root, "dev/disk/by-id/virtio-gva")); err != nil || filepath.Base(target) != "vdb" {
		t.Errorf("by-id link of serial gva: %q, %v; want one to vdb", target, err)
	}
}

// A btrfs on a loop device outside the view (another test's, on a disk
// the view does not map) is mounted beside the view's own: the kernel's
// /sys/fs/btrfs and the mount table show both, the view only its own. The
// reader must place the view's btrfs on its disks and leave the stranger
// unknown, not on the view's disks: planned as theirs, it joined a job's
// freeze set and failed the job when its owner unmounted it.
func TestRootGuestViewForeignBtrfs(t *testing.T) {
	requireHost(t)
	testenv.RequireTool(t, "mkfs.btrfs")
	p := servedPlane(t)
	devs := map[string]string{}
	for _, id := range []string{"d-gva", "d-gvb", "d-foreign"} {
		if err := p.AddDisk(id, 256<<20); err != nil {
			t.Fatal(err)
		}
		dev, err := p.Attach(id)
		if err != nil {
			t.Fatal(err)
		}
		devs[id] = dev
	}
	own, foreign := t.TempDir(), t.TempDir()
	run(t, "mkfs.btrfs", "-q", "-f", "-d", "raid0", "-m", "raid1", devs["d-gva"], devs["d-gvb"])
	run(t, "mkfs.btrfs", "-q", "-f", devs["d-foreign"])
	if err := syscall.Mount(devs["d-gva"], own, "btrfs", 0, "device="+devs["d-gvb"]); err != nil {
		t.Fatal(err)
	}
	defer syscall.Unmount(own, 0)
	if err := syscall.Mount(devs["d-foreign"], foreign, "btrfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer syscall.Unmount(foreign, 0)
	root := filepath.Join(t.TempDir(), "guest")
	if _, err := p.WriteGuestView(root, map[string]string{"d-gva": "gva", "d-gvb": "gvb"}); err != nil {
		t.Fatal(err)
	}
	topo, err := topology.New(root).Discover()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, m := range topo.Mounts {
		switch m.MountPoint {
		case own:
			seen++
			under, err := topo.DisksUnder(m)
			if err != nil || !slices.Equal(under, []string{"vdb", "vdc"}) {
				t.Errorf("the view's btrfs at %s is on %v, %v; want [vdb vdc]", own, under, err)
			}
		case foreign:
			seen++
			if under, err := topo.DisksUnder(m); !errors.Is(err, topology.ErrUnknownDevice) {
				t.Errorf("the foreign btrfs at %s (%s) is on %v, %v; want ErrUnknownDevice", foreign, m.Source, under, err)
			}
		}
	}
	if seen != 2 {
		t.Fatalf("%d of the two btrfs mounts are in the view's mountinfo", seen)
	}
	for _, m := range topo.MountsOn("vdb") {
		if m.MountPoint == foreign {
			t.Errorf("MountsOn(vdb) lists the foreign btrfs at %s", foreign)
		}
	}
}
