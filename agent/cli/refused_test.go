package cli_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// A snapshot still running on a disk that takes one at a time: `now`
// says it refused before any create (which disk, which snapshot), exits
// 75, shows no disk as being created, and the job lists with no
// snapshot and no level. With --wait it waits for it and succeeds.
func TestNowRefusedByRunningSnapshot(t *testing.T) {
	const disk = "d-bp1refusedeff000001"
	sc := ecsemu.DefaultScenario()
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(3 * time.Second)}
	sc.Disks = []ecsemu.Disk{{ID: disk, Serial: "-", Category: "cloud_efficiency", Type: "data", SizeGiB: 20}}
	h := newHarness(t, ecsemutest.WithScenario(sc))
	c, err := cloud.New(cloud.Config{Region: h.env.RegionID, Endpoint: h.env.APIURL,
		Credentials: cloud.NewStaticCredentials(h.env.AccessKeyID, h.env.AccessKeySecret)})
	if err != nil {
		t.Fatal(err)
	}
	running, err := c.CreateSnapshot(context.Background(), cloud.CreateSnapshotInput{DiskID: disk, Name: "someone-else", ClientToken: "other-1"})
	if err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := h.run("snapshot-now", "--no-wait")
	if code != cli.ExitTemporary {
		t.Errorf("exit %d, want %d", code, cli.ExitTemporary)
	}
	if !strings.Contains(stderr, "refused before any create") || !strings.Contains(stderr, disk) || !strings.Contains(stderr, running) || strings.Contains(stderr, "CreateSnapshot") {
		t.Errorf("stderr: %s", stderr)
	}
	if strings.Contains(stdout, "creating") || !strings.Contains(stdout, "not-created") || !strings.Contains(stdout, "failed in preflight; nothing created") {
		t.Errorf("stdout:\n%s", stdout)
	}
	_, stdout, _ = h.run("ecssnap", "list")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if _, after, ok := strings.Cut(lines[len(lines)-1], "failed in preflight"); len(lines) != 2 || !ok ||
		!strings.HasPrefix(strings.Join(strings.Fields(after), " "), "none 0") {
		t.Errorf("list (want no level, 0 snapshots):\n%s", stdout)
	}

	code, stdout, stderr = h.run("snapshot-now", "--wait", "--timeout", "30s")
	if code != cli.ExitOK || !strings.Contains(stdout, "waiting for snapshot "+running) {
		t.Errorf("--wait: exit %d: %s\n%s", code, stderr, stdout)
	}
	t.Logf("--wait:\n%s", stdout)
}

// A job that never learnt its instance (the metadata service does not
// answer) is recorded as failed in identify with no level, and `show`
// prints no empty table.
func TestNotOnECSRecordedAsFailedInIdentify(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(quickScenario()), ecsemutest.WithFaults(ecsemu.Faults{IMDSOutage: true}))
	if code, _, stderr := h.run("snapshot-now"); code != cli.ExitUnavailable {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, stdout, _ := h.run("ecssnap", "list")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "failed in identify") || !strings.Contains(lines[1], "none") || strings.Contains(lines[1], "crash") {
		t.Fatalf("list:\n%s", stdout)
	}
	id := strings.Fields(lines[1])[0]
	_, stdout, _ = h.run("ecssnap", "show", id)
	if strings.Contains(stdout, "DISK") || !strings.Contains(stdout, "failed in identify; nothing created") ||
		!strings.Contains(stdout, "consistency: none") || !strings.Contains(stdout, "error: ") {
		t.Errorf("show:\n%s", stdout)
	}
}
