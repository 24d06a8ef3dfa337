package restore_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/restore"
)

// TestRollbackBytes rolls a two-disk btrfs back on bytes, with a stand-in
// for the data plane: stopping the instance unmounts the filesystem and
// closes its loop devices, ResetDisks copies each snapshot's bytes over
// its disk, starting the instance opens and mounts them again. Afterwards
// the records written before the job are there, the markers written after
// it are gone, the filesystem checks clean, and the instance is Running.
func TestRollbackBytes(t *testing.T) {
	dir := t.TempDir()
	sc, fs := twoDiskBtrfs(t, dir)
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	cl := client(t, env)
	plane := newFakePlane(t, env) // for the snapshots' bytes; its hooks are replaced below
	ctx := context.Background()
	jobID := "j-20261207-000000-0000000d"

	backing := map[string]string{}
	for i, disk := range []string{"d-btrfs0", "d-btrfs1"} {
		b, err := os.ReadFile(filepath.Join("/sys/block", filepath.Base(fs.Devices[i]), "loop/backing_file"))
		if err != nil {
			t.Fatal(err)
		}
		backing[disk] = strings.TrimSpace(string(b))
	}
	for _, r := range []string{"record-1", "record-2", "record-3"} {
		write(t, filepath.Join(fs.MountPoint, r), r+"\n")
	}
	takeFrozenJob(t, cl, plane, fs, jobID)
	time.Sleep(200 * time.Millisecond) // the snapshots finish: a disk with one in progress cannot be reset
	for _, m := range []string{"marker-1", "marker-2"} {
		write(t, filepath.Join(fs.MountPoint, m), m+"\n")
	}

	var (
		mu     sync.Mutex
		loops  []string
		check  string
		hookEr []string
	)
	run := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			hookEr = append(hookEr, name+" "+strings.Join(args, " ")+": "+err.Error()+": "+string(out))
		}
		return strings.TrimSpace(string(out))
	}
	env.Emu.SetDiskHooks(ecsemu.DiskHooks{
		Stopped: func(string) {
			mu.Lock()
			defer mu.Unlock()
			run("umount", fs.MountPoint)
			for _, d := range fs.Devices {
				run("btrfs", "device", "scan", "--forget", d)
				run("losetup", "-d", d)
			}
		},
		Reset: func(disk, snap string) {
			mu.Lock()
			defer mu.Unlock()
			plane.mu.Lock()
			src := plane.snaps[snap]
			plane.mu.Unlock()
			if src == "" {
				return // a disk the stand-in holds no bytes for
			}
			run("cp", "--sparse=always", src, backing[disk])
		},
		Started: func(string) {
			mu.Lock()
			defer mu.Unlock()
			loops = nil
			for _, disk := range []string{"d-btrfs0", "d-btrfs1"} {
				loops = append(loops, run("losetup", "-f", "--show", backing[disk]))
			}
			check = run("btrfs", "check", "--readonly", loops[0])
			run("mount", "-t", "btrfs", "-o", "device="+loops[0]+",device="+loops[1], loops[0], fs.MountPoint)
		},
	})
	t.Cleanup(func() {
		_ = exec.Command("umount", fs.MountPoint).Run()
		for _, l := range loops {
			_ = exec.Command("losetup", "-d", l).Run()
		}
	})

	j, _ := restore.OpenJournal(t.TempDir(), nil)
	p, err := restore.PlanRollback(ctx, cl, j, jobID, env.InstanceID, env.RegionID, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restore.Rollback(ctx, cl, j, p, opts()); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hookEr) > 0 {
		t.Fatalf("the stand-in data plane failed: %s", strings.Join(hookEr, "\n"))
	}
	if s, _ := env.Emu.InstanceStatus(env.InstanceID); s != "Running" {
		t.Errorf("instance is %s", s)
	}
	if !strings.Contains(check, "no error found") {
		t.Errorf("btrfs check after the rollback:\n%s", check)
	}
	for _, r := range []string{"record-1", "record-2", "record-3"} {
		if b, err := os.ReadFile(filepath.Join(fs.MountPoint, r)); err != nil || string(b) != r+"\n" {
			t.Errorf("%s after the rollback: %q %v", r, b, err)
		}
	}
	for _, m := range []string{"marker-1", "marker-2"} {
		if _, err := os.Stat(filepath.Join(fs.MountPoint, m)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived the rollback: %v", m, err)
		}
	}
	if out, err := exec.Command("btrfs", "scrub", "start", "-B", "-r", fs.MountPoint).CombinedOutput(); err != nil {
		t.Errorf("scrub after the rollback: %v\n%s", err, out)
	}
}
