package job_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/freeze"
	"github.com/ecssnap/ecssnap/pkg/freeze/freezetest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/loopfs/loopfstest"
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
	fss := loopfstest.Ext4(t, 2)
	ctx := context.Background()
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
				go freezetest.SignalHelperWhenFrozen(t, journal, mounts[0], slowCreate/3, tc.signal)
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
