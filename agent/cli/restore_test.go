package cli_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/restore"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// restoreScenario is quickScenario with every restore step short.
func restoreScenario() *ecsemu.Scenario {
	sc := quickScenario()
	d := ecsemu.Duration(100 * time.Millisecond)
	sc.Restore = ecsemu.Restore{DiskCreate: d, DiskAttach: d, DiskDetach: d, DiskReset: d, InstanceStop: d, InstanceStart: d, ImageCreate: d}
	return sc
}

// takeJob runs `snapshot-now --wait` and returns the job's result.
func takeJob(t *testing.T, h *harness) job.Result {
	t.Helper()
	code, stdout, stderr := h.run("ecssnap", "now", "--wait", "--json", "--reason", "before upgrade")
	if code != cli.ExitOK {
		t.Fatalf("now: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var res job.Result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != "succeeded" || len(res.Snapshots) < 2 {
		t.Fatalf("job = %+v", res)
	}
	return res
}

// outside makes the CLI run as if on an operator's machine: no metadata
// service answers.
func (h *harness) outside() { h.vars["ECSSNAP_METADATA_ENDPOINT"] = "http://127.0.0.1:1" }

// inside undoes outside.
func (h *harness) inside() { h.vars["ECSSNAP_METADATA_ENDPOINT"] = h.env.IMDSURL }

// untouched checks that nothing a rollback does has happened.
func untouched(t *testing.T, env *ecsemutest.Env, res job.Result) {
	t.Helper()
	if m := env.Emu.StoppedMode(env.InstanceID); m != "" {
		t.Errorf("the instance was stopped (%s)", m)
	}
	for _, s := range res.Snapshots {
		if v, _ := env.Emu.DiskRestore(s.DiskID); len(v.ResetFrom) != 0 {
			t.Errorf("disk %s was reset: %v", s.DiskID, v.ResetFrom)
		}
	}
}

func oneLineErr(t *testing.T, stderr string) {
	t.Helper()
	if strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.HasPrefix(stderr, "ecssnap: ") {
		t.Errorf("want one error line, got %q", stderr)
	}
}

func TestRollbackFromInsideRefuses(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(restoreScenario()))
	res := takeJob(t, h)
	code, _, stderr := h.run("ecssnap", "rollback", res.JobID, "--yes")
	if code != cli.ExitUsage {
		t.Fatalf("exit %d, want %d: %s", code, cli.ExitUsage, stderr)
	}
	want := "ecssnap rollback " + res.JobID + " --instance " + h.env.InstanceID + " --region " + h.env.RegionID + " --yes"
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q lacks the command %q", stderr, want)
	}
	oneLineErr(t, stderr)
	untouched(t, h.env, res)
}

// TestRollbackEndToEnd: from outside, a preview without --yes changes
// nothing, --dry-run prints calls and console steps, and the rollback
// itself stops the instance (KeepCharging), snapshots every disk first,
// resets each to the job's snapshot and starts the instance again.
func TestRollbackEndToEnd(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(restoreScenario()))
	res := takeJob(t, h)
	h.outside()
	args := []string{"ecssnap", "rollback", res.JobID, "--instance", h.env.InstanceID, "--region", h.env.RegionID}

	code, stdout, stderr := h.run(args...)
	if code != cli.ExitUsage || !strings.Contains(stderr, "--yes") || !strings.Contains(stdout, "is lost") {
		t.Fatalf("without --yes: exit %d\n%s\n%s", code, stdout, stderr)
	}
	oneLineErr(t, stderr)
	untouched(t, h.env, res)

	// Without --instance the job's tags find it.
	code, stdout, stderr = h.run("ecssnap", "rollback", res.JobID, "--region", h.env.RegionID, "--dry-run")
	if code != cli.ExitOK || !strings.Contains(stdout, "Rollback of "+h.env.InstanceID) {
		t.Fatalf("--dry-run without --instance: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = h.run(append(args, "--dry-run")...)
	if code != cli.ExitOK {
		t.Fatalf("--dry-run: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"StopInstance InstanceId=" + h.env.InstanceID + " StoppedMode=KeepCharging", "ResetDisks", "StartInstance", "Roll Back Disk", "nothing was changed"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, stdout)
		}
	}
	untouched(t, h.env, res)

	code, stdout, stderr = h.run(append(args, "--yes")...)
	if code != cli.ExitOK {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "Rolled back") {
		t.Errorf("stdout: %s", stdout)
	}
	if s, _ := h.env.Emu.InstanceStatus(h.env.InstanceID); s != "Running" {
		t.Errorf("instance is %s after the rollback", s)
	}
	if m := h.env.Emu.StoppedMode(h.env.InstanceID); m != "KeepCharging" {
		t.Errorf("StoppedMode = %q", m)
	}
	for _, s := range res.Snapshots {
		v, _ := h.env.Emu.DiskRestore(s.DiskID)
		if !slices.Equal(v.ResetFrom, []string{s.SnapshotID}) {
			t.Errorf("disk %s reset from %v, want [%s]", s.DiskID, v.ResetFrom, s.SnapshotID)
		}
	}
	safety := 0
	for _, s := range h.env.Emu.Snapshots() {
		if s.Tags[restore.TagRollbackOf] == res.JobID {
			safety++
			if s.Status != "accomplished" {
				t.Errorf("safety snapshot %s is %s", s.ID, s.Status)
			}
		}
	}
	if safety != len(res.Snapshots) {
		t.Errorf("%d safety snapshots, want %d", safety, len(res.Snapshots))
	}
	// The API calls in order: stop before the safety snapshots, reset
	// after them, start last.
	var order []string
	for _, c := range h.env.Emu.Calls() {
		switch c.Action {
		case "StopInstance", "CreateSnapshot", "ResetDisks", "ResetDisk", "StartInstance":
			if c.Committed {
				order = append(order, c.Action)
			}
		}
	}
	order = slices.Compact(order)
	want := []string{"CreateSnapshot", "StopInstance", "CreateSnapshot", "ResetDisks", "StartInstance"} // the job's own per-disk snapshot first
	if !slices.Equal(order, want) {
		t.Errorf("call order %v, want %v", order, want)
	}
}

// TestRollbackBadInput: each refusal is one line and changes nothing.
func TestRollbackBadInput(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(restoreScenario()))
	res := takeJob(t, h)
	h.outside()
	run := func(t *testing.T, wantSub string, args ...string) {
		t.Helper()
		code, stdout, stderr := h.run(append([]string{"ecssnap", "rollback"}, args...)...)
		if code == cli.ExitOK || !strings.Contains(stderr, wantSub) {
			t.Fatalf("exit %d, stderr %q (want %q)\n%s", code, stderr, wantSub, stdout)
		}
		oneLineErr(t, stderr)
		untouched(t, h.env, res)
	}
	base := []string{"--instance", h.env.InstanceID, "--region", h.env.RegionID, "--yes"}
	t.Run("unknown job", func(t *testing.T) {
		run(t, "the job is unknown", append([]string{"j-20200101-000000-00000000"}, base...)...)
	})
	t.Run("not a job ID", func(t *testing.T) { run(t, "not a job ID", append([]string{"../etc"}, base...)...) })
	t.Run("no region", func(t *testing.T) { run(t, "--region", res.JobID, "--instance", h.env.InstanceID, "--yes") })
	t.Run("unknown instance", func(t *testing.T) {
		run(t, "does not exist", res.JobID, "--instance", "i-nope", "--region", h.env.RegionID, "--yes")
	})
	t.Run("instance starting", func(t *testing.T) {
		if err := h.env.Emu.SetInstanceStatus("Starting"); err != nil {
			t.Fatal(err)
		}
		defer h.env.Emu.SetInstanceStatus("Running")
		run(t, "is Starting", append([]string{res.JobID}, base...)...)
	})
	t.Run("failed snapshot", func(t *testing.T) {
		h.inside()
		other := takeJob(t, h)
		h.outside()
		if err := h.env.Emu.FailSnapshot(other.Snapshots[0].SnapshotID); err != nil {
			t.Fatal(err)
		}
		run(t, "failed", append([]string{other.JobID}, base...)...)
	})
	t.Run("snapshot deleted since", func(t *testing.T) {
		h.inside()
		other := takeJob(t, h)
		h.outside()
		var victim string
		for _, s := range other.Snapshots {
			if s.Method == "per-disk" {
				victim = s.SnapshotID
			}
		}
		req := ecs.CreateDeleteSnapshotRequest()
		req.SnapshotId = victim
		if _, err := h.env.ECSClient(t).DeleteSnapshot(req); err != nil {
			t.Fatal(err)
		}
		run(t, "no longer exists", append([]string{other.JobID}, base...)...)
	})
}

func TestImageEndToEnd(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(restoreScenario()))
	res := takeJob(t, h)
	code, stdout, stderr := h.run("ecssnap", "image", res.JobID, "--name", "before-upgrade")
	if code != cli.ExitOK {
		t.Fatalf("image: exit %d\n%s\n%s", code, stdout, stderr)
	}
	imgs := h.env.Emu.Images()
	if len(imgs) != 1 || imgs[0].Status != "Available" || imgs[0].Name != "before-upgrade" || !strings.Contains(stdout, imgs[0].ID) {
		t.Fatalf("images %+v, stdout %s", imgs, stdout)
	}
	var sys string
	var data []string
	for _, s := range res.Snapshots {
		if s.DiskType == "system" {
			sys = s.SnapshotID
		} else {
			data = append(data, s.SnapshotID)
		}
	}
	slices.Sort(data)
	got := slices.Clone(imgs[0].DataSnap)
	slices.Sort(got)
	if imgs[0].System != sys || !slices.Equal(got, data) {
		t.Errorf("image disks %+v, want system %s data %v", imgs[0], sys, data)
	}
	// Again: the same image, not a second one.
	if code, _, stderr := h.run("ecssnap", "image", res.JobID, "--name", "before-upgrade"); code != cli.ExitOK {
		t.Fatalf("image again: exit %d: %s", code, stderr)
	}
	if n := len(h.env.Emu.Images()); n != 1 {
		t.Errorf("%d images after a rerun", n)
	}
	code, _, stderr = h.run("ecssnap", "image", "j-20200101-000000-00000000")
	if code == cli.ExitOK || !strings.Contains(stderr, "unknown") {
		t.Errorf("unknown job: exit %d %s", code, stderr)
	}
	oneLineErr(t, stderr)
}

// TestMountCommandsBadInput: `mounts` with nothing mounted, and mount and
// unmount refusals that change nothing. (The byte-level mount is tested in
// package restore on loop devices; see TestMountJobEndToEnd.)
func TestMountCommandsBadInput(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(restoreScenario()))
	code, stdout, stderr := h.run("ecssnap", "mounts")
	if code != cli.ExitOK || !strings.Contains(stdout, "No restore is mounted") {
		t.Fatalf("mounts: exit %d %q %q", code, stdout, stderr)
	}
	code, stdout, _ = h.run("ecssnap", "mounts", "--json")
	if code != cli.ExitOK || strings.TrimSpace(stdout) != "[]" {
		t.Errorf("mounts --json: %d %q", code, stdout)
	}
	disks := len(h.env.Emu.DiskIDs())
	code, _, stderr = h.run("ecssnap", "unmount", "j-20200101-000000-00000000")
	if code == cli.ExitOK || !strings.Contains(stderr, "not mounted") && !strings.Contains(stderr, "root") {
		t.Errorf("unmount of nothing: exit %d %q", code, stderr)
	}
	oneLineErr(t, stderr)
	code, _, stderr = h.run("ecssnap", "mount", "j-20200101-000000-00000000")
	if code == cli.ExitOK || !strings.Contains(stderr, "unknown") && !strings.Contains(stderr, "root") {
		t.Errorf("mount of an unknown job: exit %d %q", code, stderr)
	}
	oneLineErr(t, stderr)
	if len(h.env.Emu.DiskIDs()) != disks {
		t.Error("a refused mount created a disk")
	}
}

// TestStartCleansUpInterruptedMount: a mount killed after its disk was
// created and attached (journal state running) is cleaned up by the next
// ecssnap start, whatever the command: the disk is detached and deleted.
func TestStartCleansUpInterruptedMount(t *testing.T) { leftoverMount(t, false) }

// TestUnmountWithoutRecord: the state directory lost, `ecssnap unmount JOB`
// still removes the job's restore disks.
func TestUnmountWithoutRecord(t *testing.T) {
	testenv.RequireRoot(t)
	leftoverMount(t, true)
}

func leftoverMount(t *testing.T, lostRecord bool) {
	h := newHarness(t, ecsemutest.WithScenario(restoreScenario()))
	res := takeJob(t, h)
	before := h.env.Emu.DiskIDs()
	c := h.env.ECSClient(t)
	snap := res.Snapshots[0].SnapshotID
	req := ecs.CreateCreateDiskRequest()
	req.ZoneId, req.SnapshotId, req.DiskCategory, req.ClientToken = ecsemu.DefaultZone, snap, "cloud_essd", "tok"
	req.Tag = &[]ecs.CreateDiskTag{{Key: restore.TagRestoreOf, Value: res.JobID}, {Key: job.TagManaged, Value: "true"}}
	created, err := c.CreateDisk(req)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	att := ecs.CreateAttachDiskRequest()
	att.InstanceId, att.DiskId = h.env.InstanceID, created.DiskId
	if _, err := c.AttachDisk(att); err != nil {
		t.Fatal(err)
	}
	if lostRecord {
		// No journal at all: unmount still finds the disk by tag and
		// source snapshot.
		code, stdout, stderr := h.run("ecssnap", "unmount", res.JobID)
		if code != cli.ExitOK {
			t.Fatalf("unmount without a record: exit %d %q %q", code, stdout, stderr)
		}
		if got := h.env.Emu.DiskIDs(); !slices.Equal(got, before) {
			t.Errorf("disks after unmount %v, want %v", got, before)
		}
		return
	}
	// The journal as the killed mount left it: the create recorded, its
	// answer (the disk ID) not yet.
	j, err := restore.OpenJournal(h.vars["ECSSNAP_STATE_DIR"], nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &restore.Record{Kind: restore.KindMount, JobID: res.JobID, InstanceID: h.env.InstanceID, RegionID: h.env.RegionID,
		State: restore.StateRunning, Mount: &restore.MountState{At: t.TempDir(), ZoneID: ecsemu.DefaultZone,
			Clones: []restore.Clone{{SnapshotID: snap, SourceDiskID: res.Snapshots[0].DiskID, Token: "tok"}}}}
	if err := j.Save(rec); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := h.run("ecssnap", "mounts")
	if code != cli.ExitOK || !strings.Contains(stdout, "No restore is mounted") {
		t.Fatalf("mounts: exit %d %q %q", code, stdout, stderr)
	}
	if got := h.env.Emu.DiskIDs(); !slices.Equal(got, before) {
		t.Errorf("disks after the next start %v, want %v", got, before)
	}
}

// TestMountDiskLimit: with the instance's disk limit reached, `ecssnap
// mount` fails on the first AttachDisk with one line naming the limit and
// deletes the disks it created.
func TestMountDiskLimit(t *testing.T) {
	testenv.RequireRoot(t)
	sc := restoreScenario()
	sc.Restore.DisksPerInstance = len(sc.Disks)
	h := newHarness(t, ecsemutest.WithScenario(sc))
	res := takeJob(t, h)
	before := h.env.Emu.DiskIDs()
	code, stdout, stderr := h.run("ecssnap", "mount", res.JobID, "--at", filepath.Join(t.TempDir(), "r"))
	if code == cli.ExitOK || !strings.Contains(stderr, "InstanceDiskLimitExceeded") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	oneLineErr(t, stderr)
	if !strings.Contains(stdout, "creating a cloud_essd disk from") {
		t.Errorf("no progress shown: %s", stdout)
	}
	if got := h.env.Emu.DiskIDs(); !slices.Equal(got, before) {
		t.Errorf("disks left %v, want %v", got, before)
	}
	if code, stdout, _ := h.run("ecssnap", "mounts"); code != cli.ExitOK || !strings.Contains(stdout, "No restore") {
		t.Errorf("mounts after a failed mount: %s", stdout)
	}
}
