// Package planetest gives root tests a filesystem on the emulator's data
// plane: a btrfs over two of the instance's disks, whose bytes the plane
// snapshots, clones and rolls back, and the guest view of its devices that
// the plane keeps. The restore package's tests and the CLI's both use it.
package planetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/dataplane"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// Disks are the two disks the btrfs spans.
var Disks = []string{"d-btrfs0", "d-btrfs1"}

// Btrfs is a btrfs (-d raid0 -m raid1) over Disks on the data plane,
// mounted at Mnt as the guest would, with the guest view at View.
type Btrfs struct {
	t     testing.TB
	Plane *dataplane.Plane
	View  string
	Mnt   string
}

// Require skips (fails under CI) without what the data plane needs: root,
// FUSE, loop devices, the btrfs tools and the listed extra tools.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireTool(t, append([]string{"blkid", "btrfs", "btrfstune", "unshare", "mkfs.btrfs"}, tools...)...)
	for _, dev := range []string{"/dev/fuse", "/dev/loop-control"} {
		if _, err := os.Stat(dev); err != nil {
			testenv.Unavailable(t, "the data plane needs "+dev+" (FUSE and loop devices)")
		}
	}
}

// NewBtrfs starts a data plane, adds Disks to sc (ESSD PL0, 20 GiB: the
// images are sparse), calls start to run the emulator on sc with the plane,
// then attaches the disks and makes and mounts the btrfs. Every loop
// device, FUSE mount and mount it made is gone when the test ends, and the
// test fails if one is left. The caller checks Require first.
func NewBtrfs(t testing.TB, sc *ecsemu.Scenario, start func(*ecsemu.Scenario, *dataplane.Plane)) *Btrfs {
	t.Helper()
	dir := t.TempDir()
	// Registered first, checked last: whatever the test did, nothing of the
	// data plane outlives it.
	t.Cleanup(func() { NoLeftovers(t, dir) })
	p, err := dataplane.New(dataplane.Options{Dir: filepath.Join(dir, "plane")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("data plane close: %v", err)
		}
	})
	if err := p.Serve(); err != nil {
		t.Fatal(err)
	}
	for _, id := range Disks {
		sc.Disks = append(sc.Disks, ecsemu.Disk{ID: id, Category: "cloud_essd", SizeGiB: 20, PerformanceLevel: "PL0", Portable: true})
	}
	f := &Btrfs{t: t, Plane: p, View: filepath.Join(dir, "guest"), Mnt: filepath.Join(dir, "data")}
	start(sc, p)
	serials := map[string]string{}
	var devs []string
	for _, id := range Disks {
		dev, err := p.Attach(id)
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, dev)
		serials[id] = strings.TrimPrefix(id, "d-")
	}
	if err := p.KeepGuestView(f.View, serials); err != nil {
		t.Fatal(err)
	}
	f.run("mkfs.btrfs", append([]string{"-q", "-f", "-d", "raid0", "-m", "raid1"}, devs...)...)
	if err := os.MkdirAll(f.Mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Unmount)
	f.Mount()
	return f
}

func (f *Btrfs) run(name string, args ...string) {
	f.t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		f.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// Devices returns the plane's loop devices of the btrfs disks.
func (f *Btrfs) Devices() []string {
	var devs []string
	for _, id := range Disks {
		dev := f.Plane.Device(id)
		if dev == "" {
			f.t.Fatalf("disk %s is not attached in the data plane", id)
		}
		devs = append(devs, dev)
	}
	return devs
}

// Mount mounts the btrfs as the guest does at boot, then rebuilds the
// guest view (btrfs lists its members only while mounted).
func (f *Btrfs) Mount() {
	f.t.Helper()
	devs := f.Devices()
	f.run("mount", "-t", "btrfs", "-o", "device="+devs[1], devs[0], f.Mnt)
	if err := f.Plane.RefreshGuestView(); err != nil {
		f.t.Fatal(err)
	}
}

// Unmount unmounts the btrfs and makes the kernel forget its devices, as a
// guest shutting down does.
func (f *Btrfs) Unmount() {
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := exec.Command("umount", f.Mnt).CombinedOutput()
		if err == nil || strings.Contains(string(out), "not mounted") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // a freeze guard may hold it briefly
	}
	for _, id := range Disks {
		if dev := f.Plane.Device(id); dev != "" {
			_ = exec.Command("btrfs", "device", "scan", "--forget", dev).Run()
		}
	}
}

// NoLeftovers fails t if a loop device or a mount made under dir remains.
func NoLeftovers(t testing.TB, dir string) {
	loops, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, l := range loops {
		b, err := os.ReadFile(l)
		if err == nil && strings.HasPrefix(strings.TrimSpace(string(b)), dir) {
			t.Errorf("loop device left: %s on %s", filepath.Base(filepath.Dir(filepath.Dir(l))), strings.TrimSpace(string(b)))
		}
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir) {
			t.Errorf("mount left: %s", line)
		}
	}
}
