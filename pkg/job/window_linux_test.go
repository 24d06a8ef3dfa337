package job_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/freeze"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/loopfs"
	"github.com/ecssnap/ecssnap/pkg/testenv"
	"github.com/ecssnap/ecssnap/pkg/topology"
)

// slowCreate is how long the emulator takes to answer a create in the
// early-thaw tests: longer than the kill delay and the short deadline.
const slowCreate = 1500 * time.Millisecond

// TestRootWindowEndsEarly ends the freeze window before the slowed create
// call is answered, in each way it can end early, with the real helper on an
// ext4 loop filesystem: the helper SIGKILLed (the guard thaws, the helper
// never reports), the helper SIGTERMed (it thaws and says so), and the
// helper's deadline; and a snapshot group of two filesystems. The snapshots
// exist but were not taken while provably frozen, so the job reaches
// crash: degraded when fs was desired, failed when fs was required, and
// the tags say crash.
func TestRootWindowEndsEarly(t *testing.T) {
	testenv.RequireRoot(t)
	if err := loopfs.Available("ext4"); err != nil {
		testenv.Unavailable(t, err.Error())
	}
	ctx := context.Background()
	dir := t.TempDir()
	var fss []*loopfs.FS
	for i := range 2 {
		fs, err := loopfs.Create(ctx, "ext4", dir, loopfs.Options{MountPoint: filepath.Join(dir, fmt.Sprintf("fs%d", i))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fs.Destroy() })
		fss = append(fss, fs)
	}
	diskIDs := []string{"d-bp1earlythaw0000001", "d-bp1earlythaw0000002"}

	for _, tc := range []struct {
		name     string
		signal   syscall.Signal // sent to the helper once frozen; 0: none
		deadline time.Duration
		require  job.Level
		group    bool // both filesystems, on ESSD disks: one snapshot group
	}{
		{name: "helper-SIGKILL", signal: syscall.SIGKILL, deadline: 5 * time.Second},
		{name: "helper-SIGKILL-require-fs", signal: syscall.SIGKILL, deadline: 5 * time.Second, require: job.LevelFS},
		{name: "helper-SIGTERM", signal: syscall.SIGTERM, deadline: 5 * time.Second},
		{name: "deadline", deadline: 500 * time.Millisecond},
		{name: "group-helper-SIGKILL", signal: syscall.SIGKILL, deadline: 5 * time.Second, group: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := ecsemu.DefaultScenario()
			sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(time.Millisecond)}
			category, mounts := "cloud_efficiency", []string{fss[0].MountPoint}
			if tc.group {
				category, mounts = "cloud_essd", []string{fss[0].MountPoint, fss[1].MountPoint}
			}
			overrides := map[string]string{}
			for i, fs := range fss {
				sc.Disks = append(sc.Disks, ecsemu.Disk{ID: diskIDs[i], Serial: "-", Category: category, Type: "data", SizeGiB: 20})
				overrides[filepath.Base(fs.Devices[0])] = diskIDs[i]
			}
			env := ecsemutest.Start(t, ecsemutest.WithScenario(sc), ecsemutest.WithLogger(slog.New(slog.DiscardHandler)),
				ecsemutest.WithFaults(ecsemu.Faults{Latency: slowCreate, Actions: []string{"CreateSnapshot", "CreateSnapshotGroup"}}))
			eng, _ := newEngine(t, env, cloud.RetryPolicy{})
			eng.Local = job.Local{Discover: topology.New("/").Discover, DeviceOverrides: overrides, AllowDeviceOverrides: true}
			journal := filepath.Join(t.TempDir(), "freeze.json")
			eng.Freezing = job.Freezing{Freezer: freeze.NewHelperFreezer("", nil), JournalPath: journal, Deadline: tc.deadline}

			if tc.signal != 0 {
				go signalHelperWhenFrozen(t, journal, mounts[0], tc.signal)
			}
			res, err := eng.Run(ctx, job.Request{Mounts: mounts, Consistency: job.LevelFS, Require: tc.require})
			if res.Freeze == nil || len(res.Freeze.Frozen) != len(mounts) {
				t.Fatalf("err %v; freeze %+v", err, res.Freeze)
			}
			if n := countCommitted(env); n != 1 {
				t.Fatalf("%d creates committed, want 1 (err %v)", n, err)
			}
			var (
				deg   *job.DegradedError
				below *job.BelowRequiredError
			)
			if tc.require == job.LevelFS {
				if !errors.As(err, &below) || !below.Created || below.Achieved != job.LevelCrash {
					t.Errorf("err = %v, want below the required fs with the snapshot created", err)
				}
			} else if !errors.As(err, &deg) || deg.Achieved != job.LevelCrash {
				t.Errorf("err = %v, want degraded to crash", err)
			}
			if res.Consistency != "crash" || !res.Freeze.ThawedEarly {
				t.Errorf("consistency %s, freeze %+v", res.Consistency, res.Freeze)
			}
			if len(res.Snapshots) != len(mounts) {
				t.Fatalf("snapshots %+v", res.Snapshots)
			}
			for _, s := range res.Snapshots {
				if s.SnapshotID == "" || s.Consistency != "crash" {
					t.Errorf("snapshot %+v, want created at crash", s)
					continue
				}
				if got := snapshotTags(t, env, s.SnapshotID)[job.TagConsistency]; got != "crash" {
					t.Errorf("%s tagged %s=%s in the cloud, want crash", s.SnapshotID, job.TagConsistency, got)
				}
			}
			if tc.group && (res.GroupID == "" || !strings.Contains(strings.Join(res.Warnings, "\n"), "snapshot group "+res.GroupID+" keeps the tag")) {
				t.Errorf("group %q, warnings %q", res.GroupID, res.Warnings)
			}
			t.Logf("%s: %v", tc.name, err)
		})
	}
}

// signalHelperWhenFrozen waits for the freeze journal, which names the
// helper and is written just before the first FIFREEZE, then for mount to
// be frozen (a write blocks), then signals the helper a third of the way
// into the slowed create call.
func signalHelperWhenFrozen(t *testing.T, journal, mount string, sig syscall.Signal) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(journal)
		var j freeze.Journal
		if err != nil || json.Unmarshal(data, &j) != nil || j.Helper.PID == 0 {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		for !writeBlocks(mount) {
			if time.Now().After(deadline) {
				t.Error("the filesystem was never frozen")
				return
			}
		}
		time.Sleep(slowCreate / 3)
		if err := syscall.Kill(j.Helper.PID, sig); err != nil {
			t.Errorf("signal the helper: %v", err)
		}
		return
	}
	t.Error("no freeze journal appeared")
}

// writeBlocks reports whether a write to mount is still blocked after
// 50 ms: the filesystem is frozen. The write completes at the thaw.
func writeBlocks(mount string) bool {
	done := make(chan struct{})
	go func() {
		_ = os.WriteFile(filepath.Join(mount, "probe"), []byte("x"), 0o644)
		close(done)
	}()
	select {
	case <-done:
		time.Sleep(5 * time.Millisecond)
		return false
	case <-time.After(50 * time.Millisecond):
		return true
	}
}
