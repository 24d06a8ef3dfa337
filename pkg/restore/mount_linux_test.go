package restore_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/dataplane"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/restore"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// planeBtrfs is the emulator with its data plane serving real bytes: a
// btrfs (-d raid0 -m raid1) over the instance's disks d-btrfs0 and
// d-btrfs1, mounted at mnt as the guest would, and the guest view the
// plane keeps (LinuxGuest.Root), where clones appear by serial.
type planeBtrfs struct {
	t     *testing.T
	env   *ecsemutest.Env
	plane *dataplane.Plane
	view  string
	mnt   string
}

var btrfsDisks = []string{"d-btrfs0", "d-btrfs1"}

// newPlaneBtrfs starts it; mod may change the scenario first. Every loop
// device, FUSE mount and mount it made is gone when the test ends.
func newPlaneBtrfs(t *testing.T, mod func(*ecsemu.Scenario)) *planeBtrfs {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "blkid", "btrfs", "btrfstune", "unshare", "fsfreeze", "mkfs.btrfs")
	for _, dev := range []string{"/dev/fuse", "/dev/loop-control"} {
		if _, err := os.Stat(dev); err != nil {
			testenv.Unavailable(t, "the data plane needs "+dev+" (FUSE and loop devices)")
		}
	}
	dir := t.TempDir()
	t.Cleanup(func() { noLeftovers(t, dir) })
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
	sc := quick()
	for _, id := range btrfsDisks {
		sc.Disks = append(sc.Disks, ecsemu.Disk{ID: id, Category: "cloud_essd", SizeGiB: 20, PerformanceLevel: "PL0", Portable: true})
	}
	if mod != nil {
		mod(sc)
	}
	f := &planeBtrfs{t: t, plane: p, view: filepath.Join(dir, "guest"), mnt: filepath.Join(dir, "data")}
	f.env = ecsemutest.Start(t, ecsemutest.WithScenario(sc), ecsemutest.WithDataPlane(p))
	serials := map[string]string{}
	var devs []string
	for _, id := range btrfsDisks {
		dev, err := p.Attach(id)
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, dev)
		serials[id] = strings.TrimPrefix(id, "d-")
	}
	if err := p.KeepGuestView(f.view, serials); err != nil {
		t.Fatal(err)
	}
	sh(t, "mkfs.btrfs", append([]string{"-q", "-f", "-d", "raid0", "-m", "raid1"}, devs...)...)
	if err := os.MkdirAll(f.mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.unmount)
	f.mount()
	return f
}

func (f *planeBtrfs) guest() *restore.LinuxGuest { return &restore.LinuxGuest{Root: f.view} }

// devices returns the loop devices of the btrfs disks.
func (f *planeBtrfs) devices() []string {
	var devs []string
	for _, id := range btrfsDisks {
		dev := f.plane.Device(id)
		if dev == "" {
			f.t.Fatalf("disk %s is not attached in the data plane", id)
		}
		devs = append(devs, dev)
	}
	return devs
}

// mount mounts the btrfs as the guest does at boot, then rebuilds the
// view (btrfs lists its members only while mounted).
func (f *planeBtrfs) mount() {
	devs := f.devices()
	sh(f.t, "mount", "-t", "btrfs", "-o", "device="+devs[1], devs[0], f.mnt)
	if err := f.plane.RefreshGuestView(); err != nil {
		f.t.Fatal(err)
	}
}

// unmount unmounts it and makes btrfs forget its devices: a guest
// shutting down.
func (f *planeBtrfs) unmount() {
	_ = exec.Command("umount", f.mnt).Run()
	for _, id := range btrfsDisks {
		if dev := f.plane.Device(id); dev != "" {
			_ = exec.Command("btrfs", "device", "scan", "--forget", dev).Run()
		}
	}
}

// cloneDevices counts the data plane's attached disks beyond the two.
func (f *planeBtrfs) cloneDevices() int {
	n := 0
	for _, id := range f.plane.Disks() {
		if !slices.Contains(btrfsDisks, id) && f.plane.Device(id) != "" {
			n++
		}
	}
	return n
}

// noLeftovers fails t if a loop device or a mount made under dir remains.
func noLeftovers(t *testing.T, dir string) {
	loops, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, l := range loops {
		if b, err := os.ReadFile(l); err == nil && strings.HasPrefix(strings.TrimSpace(string(b)), dir) {
			t.Errorf("loop device left on %s", strings.TrimSpace(string(b)))
		}
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mi), "\n") {
		if fl := strings.Fields(line); len(fl) > 4 && strings.HasPrefix(fl[4], dir) {
			t.Errorf("mount left: %s", line)
		}
	}
}

// takeFrozenJob snapshots both btrfs disks with a job's tags while the
// filesystem is frozen; the data plane captures their bytes as each
// create is accepted. It waits for the snapshots to finish.
func takeFrozenJob(t *testing.T, cl *cloud.Client, f *planeBtrfs, jobID string) {
	t.Helper()
	ctx := context.Background()
	sh(t, "fsfreeze", "-f", f.mnt)
	var snaps []string
	func() {
		defer sh(t, "fsfreeze", "-u", f.mnt)
		for _, disk := range btrfsDisks {
			snap, err := cl.CreateSnapshot(ctx, cloud.CreateSnapshotInput{DiskID: disk, ClientToken: jobID + disk,
				Tags: []cloud.Tag{{Key: job.TagManaged, Value: "true"}, {Key: job.TagJob, Value: jobID}}})
			if err != nil {
				t.Fatal(err)
			}
			snaps = append(snaps, snap)
		}
	}()
	for _, id := range snaps {
		s, err := f.plane.Snapshot(id)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(150 * time.Millisecond) // the emulator's snapshots finish (100 ms at least)
}

// TestMountJobEndToEnd: the cloud side through the real SDK and the guest
// side on loop devices: records before the job are in the mount, markers
// after it are not, it is read-only; a second mount is refused and creates
// nothing; unmount leaves no disk in the cloud and no loop device.
func TestMountJobEndToEnd(t *testing.T) {
	f := newPlaneBtrfs(t, nil)
	env := f.env
	cl := client(t, env)
	ctx := context.Background()
	jobID := "j-20261207-000000-0000000a"
	for _, rec := range []string{"record-1", "record-2"} {
		write(t, filepath.Join(f.mnt, rec), rec+"\n")
	}
	takeFrozenJob(t, cl, f, jobID)
	write(t, filepath.Join(f.mnt, "marker-after"), "after\n")
	before := env.Emu.DiskIDs()

	j, _ := restore.OpenJournal(t.TempDir(), nil)
	g := f.guest()
	root := filepath.Join(t.TempDir(), "restore", jobID)
	req := restore.MountRequest{JobID: jobID, InstanceID: env.InstanceID, ZoneID: ecsemu.DefaultZone, RegionID: env.RegionID, At: root}
	var progress []string
	o := opts()
	o.Progress = func(m string) { progress = append(progress, m) }
	rec, err := restore.Mount(ctx, cl, j, g, req, o)
	if err != nil {
		t.Fatalf("Mount: %v\n%s", err, strings.Join(progress, "\n"))
	}
	t.Cleanup(func() { _, _ = restore.Unmount(ctx, cl, j, g, jobID, env.InstanceID, opts()) })
	target := filepath.Join(root, f.mnt)
	for _, r := range []string{"record-1", "record-2"} {
		if b, err := os.ReadFile(filepath.Join(target, r)); err != nil || string(b) != r+"\n" {
			t.Errorf("%s in the mount: %q %v", r, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(target, "marker-after")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the marker written after the job is in the mount: %v", err)
	}
	for _, cl := range rec.Mount.Clones {
		v, ok := env.Emu.DiskRestore(cl.DiskID)
		if !ok || v.Status != "In_use" || v.InstanceID != env.InstanceID || v.SourceSnapshotID != cl.SnapshotID {
			t.Errorf("clone %s: %+v", cl.DiskID, v)
		}
	}
	if !slices.ContainsFunc(progress, func(s string) bool { return strings.Contains(s, "creating") }) ||
		!slices.ContainsFunc(progress, func(s string) bool { return strings.Contains(s, "attaching") }) {
		t.Errorf("no progress while disks were created and attached: %v", progress)
	}

	n := len(env.Emu.DiskIDs())
	_, err = restore.Mount(ctx, cl, j, g, req, opts())
	var already *restore.AlreadyMountedError
	if !errors.As(err, &already) || len(env.Emu.DiskIDs()) != n {
		t.Fatalf("second mount: %v, disks %d -> %d", err, n, len(env.Emu.DiskIDs()))
	}

	if _, err := restore.Unmount(ctx, cl, j, g, jobID, env.InstanceID, opts()); err != nil {
		t.Fatalf("Unmount: %v", err)
	}
	if got := env.Emu.DiskIDs(); !slices.Equal(got, before) {
		t.Errorf("disks after unmount %v, want %v", got, before)
	}
	if n := f.cloneDevices(); n != 0 {
		t.Errorf("%d clone devices still attached", n)
	}
	if _, err := restore.Unmount(ctx, cl, j, g, jobID, env.InstanceID, opts()); err == nil || !strings.Contains(err.Error(), "not mounted") {
		t.Errorf("unmount twice: %v", err)
	}
}

// crashingCloud panics, as a SIGKILL would stop the process, right after
// the nth AttachDisk took effect.
type crashingCloud struct {
	restore.Cloud
	n, seen int
}

func (c *crashingCloud) AttachDisk(ctx context.Context, inst, disk string, del bool) error {
	err := c.Cloud.AttachDisk(ctx, inst, disk, del)
	c.seen++
	if c.seen == c.n {
		panic("killed")
	}
	return err
}

// TestMountInterruptedIsCleanedUp: a mount killed between two AttachDisk
// calls leaves disks in the cloud; the next start's Recover finds them by
// the journal, the tag and the source snapshot, and removes them all.
func TestMountInterruptedIsCleanedUp(t *testing.T) {
	f := newPlaneBtrfs(t, nil)
	env := f.env
	cl := client(t, env)
	ctx := context.Background()
	jobID := "j-20261207-000000-0000000b"
	takeFrozenJob(t, cl, f, jobID)
	before := env.Emu.DiskIDs()
	j, _ := restore.OpenJournal(t.TempDir(), nil)
	g := f.guest()
	req := restore.MountRequest{JobID: jobID, InstanceID: env.InstanceID, ZoneID: ecsemu.DefaultZone, RegionID: env.RegionID,
		At: filepath.Join(t.TempDir(), "restore", jobID)}
	func() {
		defer func() { _ = recover() }()
		_, _ = restore.Mount(ctx, &crashingCloud{Cloud: cl, n: 1}, j, g, req, opts())
		t.Fatal("the mount was not interrupted")
	}()
	if len(env.Emu.DiskIDs()) != len(before)+2 {
		t.Fatalf("after the crash: %d disks, want the 2 clones too", len(env.Emu.DiskIDs())-len(before))
	}
	if !restore.NeedsRecovery(j) {
		t.Fatal("the journal does not show the interrupted mount")
	}
	time.Sleep(100 * time.Millisecond) // the attach in flight finishes
	n, err := restore.Recover(ctx, cl, j, g, opts())
	if err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v", n, err)
	}
	if got := env.Emu.DiskIDs(); !slices.Equal(got, before) {
		t.Errorf("disks after recovery %v, want %v", got, before)
	}
	if restore.NeedsRecovery(j) {
		t.Error("still needs recovery")
	}
	if n := f.cloneDevices(); n != 0 {
		t.Errorf("%d clone devices still attached after recovery", n)
	}
}

// TestMountDiskQuota: the instance's disk limit reached on the second
// attach: one line naming InstanceDiskLimitExceeded, and nothing left.
func TestMountDiskQuota(t *testing.T) {
	f := newPlaneBtrfs(t, func(sc *ecsemu.Scenario) { sc.Restore.DisksPerInstance = len(sc.Disks) + 1 })
	env := f.env
	cl := client(t, env)
	ctx := context.Background()
	jobID := "j-20261207-000000-0000000c"
	takeFrozenJob(t, cl, f, jobID)
	before := env.Emu.DiskIDs()
	j, _ := restore.OpenJournal(t.TempDir(), nil)
	g := f.guest()
	_, err := restore.Mount(ctx, cl, j, g, restore.MountRequest{JobID: jobID, InstanceID: env.InstanceID,
		ZoneID: ecsemu.DefaultZone, RegionID: env.RegionID, At: filepath.Join(t.TempDir(), "restore", jobID)}, opts())
	var ue *restore.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "InstanceDiskLimitExceeded") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v", err)
	}
	if got := env.Emu.DiskIDs(); !slices.Equal(got, before) {
		t.Errorf("disks left %v, want %v", got, before)
	}
	if n := f.cloneDevices(); n != 0 {
		t.Errorf("%d clone devices left attached", n)
	}
}
