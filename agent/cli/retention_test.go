package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

func managed(id, disk, job, trigger string, age time.Duration) ecsemu.Snapshot {
	return ecsemu.Snapshot{ID: id, DiskID: disk, Status: "accomplished", Age: ecsemu.Duration(age),
		Tags: map[string]string{"ecssnap:managed": "true", "ecssnap:job": job, "ecssnap:trigger": trigger}}
}

func TestPrune(t *testing.T) {
	sc := quickScenario()
	disk := ecsemu.DemoEfficiencyDiskID
	sc.Snapshots = []ecsemu.Snapshot{
		managed("s-bp1old0000000000001", disk, "j-20260101-000000-00000001", "apt", 60*24*time.Hour),
		managed("s-bp1new0000000000001", disk, "j-20261120-000000-00000002", "apt", 24*time.Hour),
		{ID: "s-bp1notours000000001", DiskID: disk, Status: "accomplished", Age: ecsemu.Duration(90 * 24 * time.Hour)},
	}
	h := newHarness(t, ecsemutest.WithScenario(sc))
	code, stdout, stderr := h.run("ecssnap", "prune", "--dry-run")
	if code != cli.ExitOK || !strings.Contains(stdout, "would delete") || !strings.Contains(stdout, "s-bp1old0000000000001") ||
		strings.Contains(stdout, "s-bp1new") || strings.Contains(stdout, "s-bp1notours") {
		t.Fatalf("dry run: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = h.run("ecssnap", "prune")
	if code != cli.ExitOK || !strings.Contains(stdout, "deleted") {
		t.Fatalf("prune: exit %d\n%s%s", code, stdout, stderr)
	}
	left := map[string]bool{}
	for _, s := range h.env.Emu.Snapshots() {
		left[s.ID] = true
	}
	if left["s-bp1old0000000000001"] || !left["s-bp1new0000000000001"] || !left["s-bp1notours000000001"] {
		t.Errorf("after prune: %v", left)
	}
}

// A disk at its quota gets its oldest managed job evicted before the
// create; a quota full of snapshots ecssnap does not manage is a clear error.
func TestQuotaEviction(t *testing.T) {
	disk := ecsemu.DemoEfficiencyDiskID
	sc := quickScenario()
	sc.Quota.ManualSnapshotsPerDisk = 1
	sc.Snapshots = []ecsemu.Snapshot{managed("s-bp1full000000000001", disk, "j-20261101-000000-00000003", "manual", 2*time.Hour)}
	h := newHarness(t, ecsemutest.WithScenario(sc))
	h.vars["ECSSNAP_CONFIG"] = writeConfig(t, "consistency: crash\nquota_per_disk: 1\n")
	if code, _, stderr := h.run("snapshot-now", "--no-wait", "--disks", disk); code != cli.ExitOK {
		t.Fatalf("with a managed snapshot filling the quota: exit %d %s", code, stderr)
	}

	sc = quickScenario()
	sc.Quota.ManualSnapshotsPerDisk = 1
	sc.Snapshots = []ecsemu.Snapshot{{ID: "s-bp1foreign000000001", DiskID: disk, Status: "accomplished"}}
	h = newHarness(t, ecsemutest.WithScenario(sc))
	h.vars["ECSSNAP_CONFIG"] = writeConfig(t, "consistency: crash\nquota_per_disk: 1\n")
	code, _, stderr := h.run("snapshot-now", "--no-wait", "--disks", disk)
	if code != cli.ExitFailed || !strings.Contains(stderr, "none of them managed by ecssnap") {
		t.Errorf("quota full of unmanaged snapshots: exit %d %s", code, stderr)
	}
}
