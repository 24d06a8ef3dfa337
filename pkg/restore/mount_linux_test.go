package restore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/dataplane"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/dataplane/planetest"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/restore"
)

// planeBtrfs is the emulator with its data plane serving real bytes: the
// planetest btrfs over the instance's disks d-btrfs0 and d-btrfs1, and the
// guest view the plane keeps (LinuxGuest.Root), where clones appear by
// serial.
type planeBtrfs struct {
	*planetest.Btrfs
	t   *testing.T
	env *ecsemutest.Env
}

// newPlaneBtrfs starts it; mod may change the scenario first. Every loop
// device, FUSE mount and mount it made is gone when the test ends.
func newPlaneBtrfs(t *testing.T, mod func(*ecsemu.Scenario)) *planeBtrfs {
	t.Helper()
	planetest.Require(t, "fsfreeze")
	f := &planeBtrfs{t: t}
	f.Btrfs = planetest.NewBtrfs(t, quick(), func(sc *ecsemu.Scenario, p *dataplane.Plane) {
		if mod != nil {
			mod(sc)
		}
		f.env = ecsemutest.Start(t, ecsemutest.WithScenario(sc), ecsemutest.WithDataPlane(p))
	})
	return f
}

func (f *planeBtrfs) guest() *restore.LinuxGuest { return &restore.LinuxGuest{Root: f.View} }

// mountRequest asks to mount the job's snapshots in the default zone, at
// a fresh directory.
func (f *planeBtrfs) mountRequest(jobID string) restore.MountRequest {
	return restore.MountRequest{JobID: jobID, InstanceID: f.env.InstanceID, ZoneID: ecsemu.DefaultZone, RegionID: f.env.RegionID,
		At: filepath.Join(f.t.TempDir(), "restore", jobID)}
}

// cloneDevices counts the data plane's attached disks beyond the two.
func (f *planeBtrfs) cloneDevices() int {
	n := 0
	for _, id := range f.Plane.Disks() {
		if !slices.Contains(planetest.Disks, id) && f.Plane.Device(id) != "" {
			n++
		}
	}
	return n
}

// takeFrozenJob snapshots both btrfs disks with a job's tags while the
// filesystem is frozen; the data plane captures their bytes as each
// create is accepted. It waits for the snapshots to finish.
func takeFrozenJob(t *testing.T, cl *cloud.Client, f *planeBtrfs, jobID string) {
	t.Helper()
	ctx := context.Background()
	sh(t, "fsfreeze", "-f", f.Mnt)
	var snaps []string
	func() {
		defer sh(t, "fsfreeze", "-u", f.Mnt)
		for _, disk := range planetest.Disks {
			snap, err := cl.CreateSnapshot(ctx, cloud.CreateSnapshotInput{DiskID: disk, ClientToken: jobID + disk,
				Tags: []cloud.Tag{{Key: job.TagManaged, Value: "true"}, {Key: job.TagJob, Value: jobID}}})
			if err != nil {
				t.Fatal(err)
			}
			snaps = append(snaps, snap)
		}
	}()
	for _, id := range snaps {
		s, err := f.Plane.Snapshot(id)
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
		write(t, filepath.Join(f.Mnt, rec), rec+"\n")
	}
	takeFrozenJob(t, cl, f, jobID)
	write(t, filepath.Join(f.Mnt, "marker-after"), "after\n")
	before := env.Emu.DiskIDs()

	j, _ := restore.OpenJournal(t.TempDir(), nil)
	g := f.guest()
	root := filepath.Join(t.TempDir(), "restore", jobID)
	req := f.mountRequest(jobID)
	req.At = root
	var progress []string
	o := opts()
	o.Progress = func(m string) { progress = append(progress, m) }
	rec, err := restore.Mount(ctx, cl, j, g, req, o)
	if err != nil {
		t.Fatalf("Mount: %v\n%s", err, strings.Join(progress, "\n"))
	}
	t.Cleanup(func() { _, _ = restore.Unmount(ctx, cl, j, g, jobID, env.InstanceID, opts()) })
	target := filepath.Join(root, f.Mnt)
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
	req := f.mountRequest(jobID)
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
	_, err := restore.Mount(ctx, cl, j, g, f.mountRequest(jobID), opts())
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
