package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/freeze"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/loopfs"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// TestRootHelperKilledIsCrash SIGKILLs the freeze helper while the
// filesystem is frozen and the create call is slowed by the emulator: the
// guard thaws before the create is accepted. `now` must then report crash
// everywhere: exit 2 when fs was desired, 1 when it was required; the JSON
// result, the recorded job (list, show), and the snapshot's tag in the cloud.
func TestRootHelperKilledIsCrash(t *testing.T) {
	testenv.RequireRoot(t)
	if err := loopfs.Available("ext4"); err != nil {
		testenv.Unavailable(t, err.Error())
	}
	fs, err := loopfs.Create(context.Background(), "ext4", t.TempDir(), loopfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Destroy() })
	const diskID = "d-bp1helperkill000001"
	const latency = 1500 * time.Millisecond
	sc := ecsemu.DefaultScenario()
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(time.Millisecond)}
	sc.Disks = []ecsemu.Disk{{ID: diskID, Serial: "-", Category: "cloud_efficiency", Type: "data", SizeGiB: 20}}
	h := newHarness(t, ecsemutest.WithScenario(sc),
		ecsemutest.WithFaults(ecsemu.Faults{Latency: latency, Actions: []string{"CreateSnapshot"}}))
	h.vars["ECSSNAP_CONFIG"] = writeConfig(t, fmt.Sprintf("freeze: {deadline: 5s}\ntest_device_map_enabled: true\ntest_device_map:\n  %s: %s\n",
		filepath.Base(fs.Devices[0]), diskID))

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"--consistency", "fs"}, cli.ExitDegraded},
		{[]string{"--require", "fs"}, cli.ExitFailed},
	} {
		go killHelperWhenFrozen(t, h.vars["ECSSNAP_FREEZE_JOURNAL"], fs.MountPoint, latency/3)
		args := append([]string{"snapshot-now", "--json", "--mount", fs.MountPoint}, tc.args...)
		code, stdout, stderr := h.run(args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d: %s", tc.args, code, tc.code, stderr)
		}
		var res job.Result
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("%v: %v\n%s", tc.args, err, stdout)
		}
		if res.Consistency != "crash" || res.Freeze == nil || !res.Freeze.ThawedEarly || res.Freeze.ThawReason != job.ThawReasonHelperGone {
			t.Errorf("%v: consistency %s, freeze %+v", tc.args, res.Consistency, res.Freeze)
		}
		if len(res.Snapshots) != 1 || res.Snapshots[0].SnapshotID == "" {
			t.Fatalf("%v: snapshots %+v", tc.args, res.Snapshots)
		}
		if tag := cloudTag(t, h.env, res.Snapshots[0].SnapshotID, job.TagConsistency); tag != "crash" {
			t.Errorf("%v: the snapshot is tagged consistency=%s", tc.args, tag)
		}
		// The record says the same.
		code, stdout, _ = h.run("ecssnap", "show", "--json", res.JobID)
		if code != cli.ExitOK || !strings.Contains(stdout, `"consistency": "crash"`) || strings.Contains(stdout, `"consistency": "fs"`) {
			t.Errorf("show %s: exit %d\n%s", res.JobID, code, stdout)
		}
		code, stdout, _ = h.run("ecssnap", "show", res.JobID)
		if code != cli.ExitOK || !strings.Contains(stdout, "consistency: crash") {
			t.Errorf("show %s: exit %d\n%s", res.JobID, code, stdout)
		}
	}
}

// killHelperWhenFrozen SIGKILLs the helper the freeze journal names once
// mount is frozen (a write blocks) and delay has passed (the create is in
// flight).
func killHelperWhenFrozen(t *testing.T, journal, mount string, delay time.Duration) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(journal)
		var j freeze.Journal
		if err != nil || json.Unmarshal(data, &j) != nil || j.Helper.PID == 0 {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		for !frozenNow(mount) {
			if time.Now().After(deadline) {
				t.Error("the filesystem was never frozen")
				return
			}
		}
		time.Sleep(delay)
		if err := syscall.Kill(j.Helper.PID, syscall.SIGKILL); err != nil {
			t.Errorf("kill the helper: %v", err)
		}
		return
	}
	t.Error("no freeze journal appeared")
}

// frozenNow reports whether a write to mount is still blocked after 50 ms;
// the write completes at the thaw.
func frozenNow(mount string) bool {
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

// cloudTag reads one tag of a snapshot as the cloud has it now.
func cloudTag(t *testing.T, env *ecsemutest.Env, snapshotID, key string) string {
	t.Helper()
	c, err := cloud.New(cloud.Config{Region: env.RegionID, Endpoint: env.APIURL,
		Credentials: cloud.NewStaticCredentials(env.AccessKeyID, env.AccessKeySecret)})
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := c.DescribeSnapshots(context.Background(), []string{snapshotID})
	if err != nil || len(snaps) != 1 {
		t.Fatalf("describe %s: %v (%d found)", snapshotID, err, len(snaps))
	}
	return snaps[0].Tags[key]
}
