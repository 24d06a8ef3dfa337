package restore_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/restore"
)

// TestRollbackBytes rolls a two-disk btrfs back on the emulator's data
// plane: the instance's stop is the guest shutting down (the filesystem
// unmounted, then the plane detaches the disks), ResetDisks rewinds each
// disk's bytes to its snapshot, the start attaches them again and the
// guest mounts them. Afterwards the records written before the job are
// there, the markers written after it are gone, the filesystem checks and
// scrubs clean, and the instance is Running.
func TestRollbackBytes(t *testing.T) {
	f := newPlaneBtrfs(t, nil)
	env := f.env
	cl := client(t, env)
	ctx := context.Background()
	jobID := "j-20261207-000000-0000000d"
	for _, r := range []string{"record-1", "record-2", "record-3"} {
		write(t, filepath.Join(f.Mnt, r), r+"\n")
	}
	takeFrozenJob(t, cl, f, jobID)
	for _, m := range []string{"marker-1", "marker-2"} {
		write(t, filepath.Join(f.Mnt, m), m+"\n")
	}

	stop := env.Emu.HoldCalls("StopInstance")
	go func() {
		<-stop.Arrived()
		f.Unmount()
		stop.Release()
	}()
	j, _ := restore.OpenJournal(t.TempDir(), nil)
	p, err := restore.PlanRollback(ctx, cl, j, jobID, env.InstanceID, env.RegionID, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = restore.Rollback(ctx, cl, j, p, opts())
	stop.Release()
	if err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if s, _ := env.Emu.InstanceStatus(env.InstanceID); s != "Running" {
		t.Errorf("instance is %s", s)
	}
	devs := f.Devices()
	if out, err := exec.Command("btrfs", "check", "--readonly", devs[0]).CombinedOutput(); err != nil || !strings.Contains(string(out), "no error found") {
		t.Errorf("btrfs check after the rollback: %v\n%s", err, out)
	}
	f.Mount()
	for _, r := range []string{"record-1", "record-2", "record-3"} {
		if b, err := os.ReadFile(filepath.Join(f.Mnt, r)); err != nil || string(b) != r+"\n" {
			t.Errorf("%s after the rollback: %q %v", r, b, err)
		}
	}
	for _, m := range []string{"marker-1", "marker-2"} {
		if _, err := os.Stat(filepath.Join(f.Mnt, m)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived the rollback: %v", m, err)
		}
	}
	if out, err := exec.Command("btrfs", "scrub", "start", "-B", "-r", f.Mnt).CombinedOutput(); err != nil {
		t.Errorf("scrub after the rollback: %v\n%s", err, out)
	}
}
