package topology

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// run runs a command and fails the test with its output if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// loopDevice attaches a fresh sparse image to a free loop device and
// detaches it when the test ends.
func loopDevice(t *testing.T, img string) string {
	t.Helper()
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	// mkfs.btrfs wants more than 256 MiB per device for RAID1 with its defaults.
	if err := f.Truncate(320 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// -f --show picks a free device atomically and names it: other tests
	// on this machine use loop devices too, so no number is assumed.
	dev := run(t, "losetup", "-f", "--show", img)
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v\n%s", dev, err, out)
		}
	})
	return dev
}

// mountAt mounts and unmounts at the end of the test (before the loop
// devices are detached: cleanups run last registered first).
func mountAt(t *testing.T, dir string, args ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "mount", append(args, dir)...)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
			// Never leave a mount behind, even a busy one.
			exec.Command("umount", "-l", dir).Run()
		}
	})
}

// TestRootLoopDevices builds a btrfs over two loop devices and an ext4 on
// a third, then asks the real kernel's sysfs which disks hold each.
func TestRootLoopDevices(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "losetup", "mkfs.btrfs", "mkfs.ext4", "mount", "umount")
	dir := t.TempDir()
	a := loopDevice(t, filepath.Join(dir, "a.img"))
	b := loopDevice(t, filepath.Join(dir, "b.img"))
	c := loopDevice(t, filepath.Join(dir, "c.img"))
	run(t, "mkfs.btrfs", "-q", "-f", "-d", "raid1", "-m", "raid1", a, b)
	run(t, "mkfs.ext4", "-q", "-F", c)
	if _, err := exec.LookPath("btrfs"); err == nil {
		// mkfs registered a and b with the kernel's btrfs device list;
		// drop them (only them: other tests may rely on theirs) once
		// unmounted, so a later filesystem on the same loop numbers is not
		// confused with this one.
		t.Cleanup(func() { exec.Command("btrfs", "device", "scan", "--forget", a, b).Run() })
	}
	// A space in the mount point: mountinfo escapes it as \040.
	btrfsAt := filepath.Join(dir, "btrfs pool")
	extAt := filepath.Join(dir, "ext4")
	mountAt(t, btrfsAt, "-t", "btrfs", "-o", "device="+b, a)
	mountAt(t, extAt, "-t", "ext4", c)

	topo, err := New("").Discover()
	if err != nil {
		t.Fatal(err)
	}
	na, nb, nc := filepath.Base(a), filepath.Base(b), filepath.Base(c)
	for _, n := range []string{na, nb, nc} {
		d := topo.Devices[n]
		if d == nil || d.Kind != KindLoop || !d.IsWholeDisk() || d.SizeBytes != 320<<20 || !strings.HasSuffix(d.BackingFile, ".img") {
			t.Fatalf("%s = %+v", n, d)
		}
	}
	var btrfsMount, extMount *Mount
	for i, m := range topo.Mounts {
		switch m.MountPoint {
		case btrfsAt:
			btrfsMount = &topo.Mounts[i]
		case extAt:
			extMount = &topo.Mounts[i]
		}
	}
	if btrfsMount == nil || extMount == nil {
		t.Fatalf("mounts not found in mountinfo: btrfs %v, ext4 %v", btrfsMount, extMount)
	}
	if !strings.HasPrefix(btrfsMount.Dev, "0:") || btrfsMount.FSType != "btrfs" {
		t.Errorf("btrfs mount = %+v", btrfsMount)
	}
	want := []string{na, nb}
	slices.SortFunc(want, compareNames)
	if got, err := topo.DisksUnder(*btrfsMount); err != nil || !slices.Equal(got, want) {
		t.Errorf("DisksUnder(btrfs) = %v, %v; want %v", got, err, want)
	}
	if got, err := topo.DisksUnder(*extMount); err != nil || !slices.Equal(got, []string{nc}) {
		t.Errorf("DisksUnder(ext4) = %v, %v; want [%s]", got, err, nc)
	}
	if btrfsMount.Device() != na || extMount.Device() != nc {
		t.Errorf("Device(): btrfs %q, ext4 %q", btrfsMount.Device(), extMount.Device())
	}
	if !slices.ContainsFunc(topo.MountsOn(nb), func(m Mount) bool { return m.MountPoint == btrfsAt }) {
		t.Errorf("MountsOn(%s) lacks the btrfs mount", nb)
	}
	found := false
	for _, members := range topo.Btrfs {
		found = found || slices.Equal(members, want)
	}
	if !found {
		t.Errorf("/sys/fs/btrfs members = %v, want one filesystem over %v", topo.Btrfs, want)
	}

	// The test seam maps the loop devices to (emulated) cloud disks, and
	// only when enabled.
	inventory := []CloudDisk{{ID: "d-emua"}, {ID: "d-emub"}, {ID: "d-emuc"}}
	overrides := map[string]string{na: "d-emua", nb: "d-emub", nc: "d-emuc"}
	if _, err := Join(topo, inventory, JoinOptions{DeviceOverrides: overrides}); !errors.Is(err, ErrDeviceOverridesDisabled) {
		t.Errorf("Join with overrides, not enabled: %v", err)
	}
	m, err := Join(topo, inventory, JoinOptions{DeviceOverrides: overrides, AllowDeviceOverrides: true})
	if err != nil {
		t.Fatal(err)
	}
	for dev, id := range overrides {
		if dm, _ := m.ByDevice(dev); dm.Disk.ID != id || dm.Method != MatchOverride {
			t.Errorf("%s mapped as %+v, want %s", dev, dm, id)
		}
	}
}
