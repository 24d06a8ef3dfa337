package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/freeze"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/loopfs"
	"github.com/ecssnap/ecssnap/pkg/plan"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// loopInstance is btrfs over two loop devices and ext4 on a third, mapped
// to three emulator disks through the test seam: the two btrfs disks are
// ESSD, the ext4 one cloud_efficiency.
type loopInstance struct {
	h           *harness
	btrfs, ext4 *loopfs.FS
	btrfsDisks  []string
	ext4Disk    string
}

func newLoopInstance(t *testing.T) *loopInstance {
	testenv.RequireRoot(t)
	for _, fs := range []string{"btrfs", "ext4"} {
		if err := loopfs.Available(fs); err != nil {
			testenv.Unavailable(t, err.Error())
		}
	}
	ctx := context.Background()
	dir := t.TempDir()
	btrfs, err := loopfs.Create(ctx, "btrfs", dir, loopfs.Options{Devices: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { btrfs.Destroy() })
	ext4, err := loopfs.Create(ctx, "ext4", dir, loopfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ext4.Destroy() })

	li := &loopInstance{btrfs: btrfs, ext4: ext4,
		btrfsDisks: []string{"d-bp1loopbtrfs0000001", "d-bp1loopbtrfs0000002"}, ext4Disk: "d-bp1loopext400000001"}
	sc := ecsemu.DefaultScenario()
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(200 * time.Millisecond)}
	sc.Disks = []ecsemu.Disk{
		{ID: li.btrfsDisks[0], Serial: "-", Category: "cloud_essd", Type: "data", SizeGiB: 20},
		{ID: li.btrfsDisks[1], Serial: "-", Category: "cloud_essd", Type: "data", SizeGiB: 20},
		{ID: li.ext4Disk, Serial: "-", Category: "cloud_efficiency", Type: "data", SizeGiB: 20},
	}
	li.h = newHarness(t, ecsemutest.WithScenario(sc))
	devmap := fmt.Sprintf("test_device_map_enabled: true\ntest_device_map:\n  %s: %s\n  %s: %s\n  %s: %s\n",
		filepath.Base(btrfs.Devices[0]), li.btrfsDisks[0], filepath.Base(btrfs.Devices[1]), li.btrfsDisks[1],
		filepath.Base(ext4.Devices[0]), li.ext4Disk)
	li.h.vars["ECSSNAP_CONFIG"] = writeConfig(t, devmap)
	return li
}

// The real kernel's sysfs shows the btrfs spanning two devices: its two
// disks are one closure, planned as one snapshot group.
func TestRootPlanFindsBtrfsClosure(t *testing.T) {
	li := newLoopInstance(t)
	code, stdout, stderr := li.h.run("ecssnap", "plan", "--json", "--mount", li.btrfs.MountPoint, "--mount", li.ext4.MountPoint)
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var p plan.Plan
	if err := json.Unmarshal([]byte(stdout), &p); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Group, li.btrfsDisks) || !slices.Equal(p.PerDisk, []string{li.ext4Disk}) {
		t.Errorf("group %v, per-disk %v", p.Group, p.PerDisk)
	}
	if len(p.Closures) != 1 || !slices.Equal(p.Closures[0].Disks, li.btrfsDisks) || !p.Closures[0].Grouped {
		t.Errorf("closures = %+v", p.Closures)
	}
	var frozen []string
	for _, f := range p.FreezeSet {
		frozen = append(frozen, f.MountPoint)
	}
	if !slices.Contains(frozen, li.btrfs.MountPoint) || !slices.Contains(frozen, li.ext4.MountPoint) {
		t.Errorf("freeze set %v", frozen)
	}
}

// snapshot-now freezes both loop filesystems around the creates and reports
// fs consistency, the frozen mounts and the held time.
func TestRootSnapshotNowFreezes(t *testing.T) {
	li := newLoopInstance(t)
	code, stdout, stderr := li.h.run("snapshot-now", "--json", "--consistency", "fs", "--require", "fs",
		"--mount", li.btrfs.MountPoint, "--mount", li.ext4.MountPoint)
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	var res job.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.Consistency != "fs" || res.Freeze == nil {
		t.Fatalf("consistency %s, freeze %+v", res.Consistency, res.Freeze)
	}
	if got := res.Freeze.Frozen; len(got) != 2 || !slices.Contains(got, li.btrfs.MountPoint) || !slices.Contains(got, li.ext4.MountPoint) {
		t.Errorf("frozen = %v", got)
	}
	if res.Freeze.ThawedEarly || res.Freeze.HeldMS > 5000 || res.Freeze.ThawReason != "request" {
		t.Errorf("freeze = %+v", res.Freeze)
	}
	creates := 0
	for _, c := range li.h.env.Emu.Calls() {
		if strings.HasPrefix(c.Action, "Create") && c.Committed {
			creates++
		}
	}
	if creates != 2 { // one group for the btrfs disks, one per-disk for ext4
		t.Errorf("%d creates, want 2", creates)
	}
}

func TestRootSelftest(t *testing.T) {
	testenv.RequireRoot(t)
	if err := loopfs.Available("ext4"); err != nil {
		testenv.Unavailable(t, err.Error())
	}
	h := &harness{t: t, vars: map[string]string{"ECSSNAP_CONFIG": "/dev/null", "ECSSNAP_STATE_DIR": t.TempDir()}}
	code, stdout, stderr := h.run("ecssnap", "selftest", "--json")
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	var rep freeze.SelfTestReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.FSType == "ext4" && (r.Status != freeze.SelfTestSupported || r.WriteBlocked <= 0 || r.Recovered == "") {
			t.Errorf("ext4: %+v", r)
		}
	}
}
