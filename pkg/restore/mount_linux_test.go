package restore_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/loopfs"
	"github.com/ecssnap/ecssnap/pkg/restore"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// fakePlane stands in for the emulator's data plane until it exists: the
// bytes of each snapshot are a file copied at snapshot time, a created disk
// copies its snapshot's file, an attached disk becomes a loop device the
// guest finds through DeviceMap, a detached one goes away.
type fakePlane struct {
	t     *testing.T
	dir   string
	mu    sync.Mutex
	snaps map[string]string // snapshot -> image
	disks map[string]string // disk -> image
	loops map[string]string // disk -> loop device name
}

func newFakePlane(t *testing.T, env *ecsemutest.Env) *fakePlane {
	p := &fakePlane{t: t, dir: t.TempDir(), snaps: map[string]string{}, disks: map[string]string{}, loops: map[string]string{}}
	env.Emu.SetDiskHooks(ecsemu.DiskHooks{
		Created: func(disk, _, snap string) {
			p.mu.Lock()
			defer p.mu.Unlock()
			img := filepath.Join(p.dir, disk+".img")
			if out, err := exec.Command("cp", "--sparse=always", p.snaps[snap], img).CombinedOutput(); err != nil {
				t.Errorf("copy snapshot %s: %v %s", snap, err, out)
			}
			p.disks[disk] = img
		},
		Attached: func(disk, _, _ string) {
			p.mu.Lock()
			defer p.mu.Unlock()
			out, err := exec.Command("losetup", "-f", "--show", p.disks[disk]).Output()
			if err != nil {
				t.Errorf("losetup %s: %v", disk, err)
				return
			}
			p.loops[disk] = filepath.Base(strings.TrimSpace(string(out)))
		},
		Detached: func(disk, _, _ string) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if l := p.loops[disk]; l != "" {
				_ = exec.Command("losetup", "-d", "/dev/"+l).Run()
			}
			delete(p.loops, disk)
		},
		Deleted: func(disk string) {
			p.mu.Lock()
			defer p.mu.Unlock()
			_ = os.Remove(p.disks[disk])
			delete(p.disks, disk)
		},
	})
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, l := range p.loops {
			_ = exec.Command("losetup", "-d", "/dev/"+l).Run()
		}
	})
	return p
}

func (p *fakePlane) deviceMap(disk string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.loops[disk]
	return l, ok
}

func (p *fakePlane) attached() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.loops)
}

// twoDiskBtrfs is a scenario whose data disks d-btrfs0 and d-btrfs1 hold a
// btrfs spanning loop devices, mounted at dir/data.
func twoDiskBtrfs(t *testing.T, dir string) (*ecsemu.Scenario, *loopfs.FS) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "losetup", "blkid", "btrfs", "btrfstune", "unshare", "fsfreeze", "mkfs.btrfs")
	if err := loopfs.Available("btrfs"); err != nil {
		testenv.Unavailable(t, err.Error())
	}
	fs, err := loopfs.Create(context.Background(), "btrfs", dir, loopfs.Options{Devices: 2, MountPoint: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Destroy() })
	sc := quick()
	sc.Disks = append(sc.Disks,
		ecsemu.Disk{ID: "d-btrfs0", Category: "cloud_essd", SizeGiB: 20, PerformanceLevel: "PL0", Portable: true},
		ecsemu.Disk{ID: "d-btrfs1", Category: "cloud_essd", SizeGiB: 20, PerformanceLevel: "PL0", Portable: true})
	return sc, fs
}

// takeFrozenJob snapshots both btrfs disks while the filesystem is frozen,
// copying their bytes as the snapshots' content.
func takeFrozenJob(t *testing.T, cl *cloud.Client, p *fakePlane, fs *loopfs.FS, jobID string) {
	t.Helper()
	ctx := context.Background()
	sh(t, "fsfreeze", "-f", fs.MountPoint)
	defer sh(t, "fsfreeze", "-u", fs.MountPoint)
	for i, disk := range []string{"d-btrfs0", "d-btrfs1"} {
		snap, err := cl.CreateSnapshot(ctx, cloud.CreateSnapshotInput{DiskID: disk, ClientToken: jobID + disk,
			Tags: []cloud.Tag{{Key: job.TagManaged, Value: "true"}, {Key: job.TagJob, Value: jobID}}})
		if err != nil {
			t.Fatal(err)
		}
		back, err := os.ReadFile(filepath.Join("/sys/block", filepath.Base(fs.Devices[i]), "loop/backing_file"))
		if err != nil {
			t.Fatal(err)
		}
		img := filepath.Join(p.dir, snap+".img")
		if out, err := exec.Command("cp", "--sparse=always", strings.TrimSpace(string(back)), img).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
		p.mu.Lock()
		p.snaps[snap] = img
		p.mu.Unlock()
	}
}

// TestMountJobEndToEnd: the cloud side through the real SDK and the guest
// side on loop devices: records before the job are in the mount, markers
// after it are not, it is read-only; a second mount is refused and creates
// nothing; unmount leaves no disk in the cloud and no loop device.
func TestMountJobEndToEnd(t *testing.T) {
	dir := t.TempDir()
	sc, fs := twoDiskBtrfs(t, dir)
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	cl := client(t, env)
	plane := newFakePlane(t, env)
	ctx := context.Background()
	jobID := "j-20261207-000000-0000000a"
	for _, rec := range []string{"record-1", "record-2"} {
		write(t, filepath.Join(fs.MountPoint, rec), rec+"\n")
	}
	takeFrozenJob(t, cl, plane, fs, jobID)
	write(t, filepath.Join(fs.MountPoint, "marker-after"), "after\n")
	before := env.Emu.DiskIDs()

	j, _ := restore.OpenJournal(t.TempDir(), nil)
	g := &restore.LinuxGuest{DeviceMap: plane.deviceMap}
	root := filepath.Join(dir, "restore", jobID)
	req := restore.MountRequest{JobID: jobID, InstanceID: env.InstanceID, ZoneID: ecsemu.DefaultZone, RegionID: env.RegionID, At: root}
	var progress []string
	o := opts()
	o.Progress = func(m string) { progress = append(progress, m) }
	rec, err := restore.Mount(ctx, cl, j, g, req, o)
	if err != nil {
		t.Fatalf("Mount: %v\n%s", err, strings.Join(progress, "\n"))
	}
	t.Cleanup(func() { _, _ = restore.Unmount(ctx, cl, j, g, jobID, env.InstanceID, opts()) })
	target := filepath.Join(root, fs.MountPoint)
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
	if plane.attached() != 0 {
		t.Errorf("%d clone devices still attached", plane.attached())
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
	dir := t.TempDir()
	sc, fs := twoDiskBtrfs(t, dir)
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	cl := client(t, env)
	plane := newFakePlane(t, env)
	ctx := context.Background()
	jobID := "j-20261207-000000-0000000b"
	takeFrozenJob(t, cl, plane, fs, jobID)
	before := env.Emu.DiskIDs()
	j, _ := restore.OpenJournal(t.TempDir(), nil)
	g := &restore.LinuxGuest{DeviceMap: plane.deviceMap}
	req := restore.MountRequest{JobID: jobID, InstanceID: env.InstanceID, ZoneID: ecsemu.DefaultZone, RegionID: env.RegionID,
		At: filepath.Join(dir, "restore", jobID)}
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
}

// TestMountDiskQuota: the instance's disk limit reached on the second
// attach: one line naming InstanceDiskLimitExceeded, and nothing left.
func TestMountDiskQuota(t *testing.T) {
	dir := t.TempDir()
	sc, fs := twoDiskBtrfs(t, dir)
	sc.Restore.DisksPerInstance = len(sc.Disks) + 1
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	cl := client(t, env)
	plane := newFakePlane(t, env)
	ctx := context.Background()
	jobID := "j-20261207-000000-0000000c"
	takeFrozenJob(t, cl, plane, fs, jobID)
	before := env.Emu.DiskIDs()
	j, _ := restore.OpenJournal(t.TempDir(), nil)
	g := &restore.LinuxGuest{DeviceMap: plane.deviceMap}
	_, err := restore.Mount(ctx, cl, j, g, restore.MountRequest{JobID: jobID, InstanceID: env.InstanceID,
		ZoneID: ecsemu.DefaultZone, RegionID: env.RegionID, At: filepath.Join(dir, "restore", jobID)}, opts())
	var ue *restore.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "InstanceDiskLimitExceeded") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v", err)
	}
	if got := env.Emu.DiskIDs(); !slices.Equal(got, before) {
		t.Errorf("disks left %v, want %v", got, before)
	}
}
