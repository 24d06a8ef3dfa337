package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/freeze/freezetest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/loopfs/loopfstest"
)

// TestRootHelperKilledIsCrash SIGKILLs the freeze helper while the
// filesystem is frozen and the create call is slowed by the emulator: the
// guard thaws before the create is accepted. `now` must then report crash
// everywhere: exit 2 when fs was desired, 1 when it was required; the JSON
// result, the recorded job (list, show), and the snapshot's tag in the cloud.
func TestRootHelperKilledIsCrash(t *testing.T) {
	fs := loopfstest.Ext4(t, 1)[0]
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
		go freezetest.SignalHelperWhenFrozen(t, h.vars["ECSSNAP_FREEZE_JOURNAL"], fs.MountPoint, latency/3, syscall.SIGKILL)
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
