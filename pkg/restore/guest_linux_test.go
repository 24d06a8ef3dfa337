package restore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ecssnap/ecssnap/pkg/loopfs"
	"github.com/ecssnap/ecssnap/pkg/restore"
	"github.com/ecssnap/ecssnap/pkg/testenv"
	"github.com/ecssnap/ecssnap/pkg/topology"
)

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// original is a filesystem standing in for one of the instance's, with
// a "cloud disk" per device.
type original struct {
	fs    *loopfs.FS
	disks []string // disk IDs, one per device
}

// snapshotOf freezes the filesystem (as a job at fs consistency does),
// copies each device's bytes (the "snapshot"), thaws, and attaches the
// copies as loop devices: the clones a CreateDisk + AttachDisk would give.
func snapshotOf(t *testing.T, o original, dir string) []string {
	t.Helper()
	sh(t, "fsfreeze", "-f", o.fs.MountPoint)
	var imgs []string
	for i, dev := range o.fs.Devices {
		back, err := os.ReadFile(filepath.Join("/sys/block", filepath.Base(dev), "loop/backing_file"))
		if err != nil {
			sh(t, "fsfreeze", "-u", o.fs.MountPoint)
			t.Fatal(err)
		}
		img := filepath.Join(dir, fmt.Sprintf("clone-%s-%d.img", o.fs.Type, i))
		if out, err := exec.Command("cp", "--sparse=always", strings.TrimSpace(string(back)), img).CombinedOutput(); err != nil {
			sh(t, "fsfreeze", "-u", o.fs.MountPoint)
			t.Fatalf("cp: %v %s", err, out)
		}
		imgs = append(imgs, img)
	}
	sh(t, "fsfreeze", "-u", o.fs.MountPoint)
	var loops []string
	for _, img := range imgs {
		loop := sh(t, "losetup", "-f", "--show", img)
		t.Cleanup(func() { _ = exec.Command("losetup", "-d", loop).Run() })
		loops = append(loops, filepath.Base(loop))
	}
	return loops
}

func write(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestLinuxGuestMountsClonesBeside builds a two-device btrfs, an ext4 and
// an xfs, snapshots them, writes more, and mounts the clones beside the
// mounted originals: each at its original's path below the restore root,
// read-only, with the data of the snapshot and none written after; the
// originals are untouched (still mounted, same IDs, later data there).
func TestLinuxGuestMountsClonesBeside(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "losetup", "blkid", "btrfs", "btrfstune", "unshare", "fsfreeze", "mkfs.btrfs", "mkfs.ext4", "mkfs.xfs")
	ctx := context.Background()
	dir := t.TempDir()
	var origs []original
	for _, spec := range []struct {
		typ  string
		devs int
	}{{"btrfs", 2}, {"ext4", 1}, {"xfs", 1}} {
		if err := loopfs.Available(spec.typ); err != nil {
			testenv.Unavailable(t, err.Error())
		}
		fs, err := loopfs.Create(ctx, spec.typ, dir, loopfs.Options{Devices: spec.devs})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = fs.Destroy() })
		o := original{fs: fs}
		for i := range spec.devs {
			o.disks = append(o.disks, fmt.Sprintf("d-%s%d", spec.typ, i))
		}
		origs = append(origs, o)
	}
	uuidBefore := map[string]string{}
	var clones []restore.Clone
	devmap := map[string]string{}
	for _, o := range origs {
		write(t, filepath.Join(o.fs.MountPoint, "before.txt"), "acknowledged before the job\n")
		for _, d := range o.fs.Devices {
			uuidBefore[d] = sh(t, "blkid", "-p", "-s", "UUID", "-o", "value", d)
		}
		loops := snapshotOf(t, o, dir)
		write(t, filepath.Join(o.fs.MountPoint, "after.txt"), "written after the job\n")
		for i, l := range loops {
			clones = append(clones, restore.Clone{SourceDiskID: o.disks[i], DiskID: "d-clone-" + l, Device: l})
			devmap["d-clone-"+l] = l
		}
	}
	g := &restore.LinuxGuest{DeviceMap: func(id string) (string, bool) { d, ok := devmap[id]; return d, ok }}
	if dev, err := g.Device(clones[0].DiskID, ""); err != nil || dev != clones[0].Device {
		t.Fatalf("Device = %q, %v", dev, err)
	}
	root := filepath.Join(dir, "restore", "j-test")
	mounts, err := g.Mount(ctx, clones, root)
	t.Cleanup(func() { _ = g.Unmount(ctx, mounts) })
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	if len(mounts) != len(origs) {
		t.Fatalf("mounted %d filesystems, want %d: %+v", len(mounts), len(origs), mounts)
	}
	for _, m := range mounts {
		if m.FSType == "btrfs" && len(m.Devices) != 2 {
			t.Errorf("the btrfs restore was built from %v, want both clone devices", m.Devices)
		}
	}
	topo, err := topology.New("").Discover()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range origs {
		target := filepath.Join(root, o.fs.MountPoint)
		if b, err := os.ReadFile(filepath.Join(target, "before.txt")); err != nil || string(b) != "acknowledged before the job\n" {
			t.Errorf("%s: before.txt = %q, %v", o.fs.Type, b, err)
		}
		if _, err := os.Stat(filepath.Join(target, "after.txt")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: after.txt is in the restore: %v", o.fs.Type, err)
		}
		if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o600); !errors.Is(err, unix.EROFS) {
			t.Errorf("%s: a write into the restore: %v, want EROFS", o.fs.Type, err)
		}
		var found bool
		for _, m := range topo.Mounts {
			if m.MountPoint == target {
				found = true
				for _, opt := range []string{"ro", "nodev", "nosuid", "noexec"} {
					if !strings.Contains(","+m.Options+",", ","+opt+",") {
						t.Errorf("%s mounted with %q, lacks %s", target, m.Options, opt)
					}
				}
			}
		}
		if !found {
			t.Errorf("%s is not mounted", target)
		}
		// The original: still there, its later data too, same UUID.
		if _, err := os.Stat(filepath.Join(o.fs.MountPoint, "after.txt")); err != nil {
			t.Errorf("%s original lost after.txt: %v", o.fs.Type, err)
		}
		for _, d := range o.fs.Devices {
			if u := sh(t, "blkid", "-p", "-s", "UUID", "-o", "value", d); u != uuidBefore[d] {
				t.Errorf("%s original %s UUID changed: %s -> %s", o.fs.Type, d, uuidBefore[d], u)
			}
		}
		write(t, filepath.Join(o.fs.MountPoint, "still-writable.txt"), "yes\n")
	}
	if err := g.Unmount(ctx, mounts); err != nil {
		t.Fatalf("Unmount: %v", err)
	}
	topo, _ = topology.New("").Discover()
	for _, m := range topo.Mounts {
		if strings.HasPrefix(m.MountPoint, root) {
			t.Errorf("still mounted after Unmount: %s", m.MountPoint)
		}
	}
	mounts = nil
}
