package sdkcompat

import (
	"fmt"
	"testing"
	"time"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// quickRestore shortens a scenario's asynchronous steps (snapshots,
// disks created, attached, detached and reset, instances stopped and
// started, images made) to a tenth of a second, so the SDK scripts walk
// every restore action through its real preconditions on the real clock
// by polling, as a user would, without minutes of waiting.
func quickRestore(sc *ecsemu.Scenario) *ecsemu.Scenario {
	step := ecsemu.Duration(100 * time.Millisecond)
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: step}
	sc.Restore = ecsemu.Restore{
		DiskCreate: step, DiskAttach: step, DiskDetach: step, DiskReset: step,
		InstanceStop: step, InstanceStart: step, ImageCreate: step,
	}
	return sc
}

// pollTimeout bounds every wait for an asynchronous step (each takes
// 100 ms in quickRestore's scenarios).
const pollTimeout = 20 * time.Second

// waitFor calls get until it returns want, failing after pollTimeout.
func waitFor(t *testing.T, what, want string, get func() (string, error)) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		got, err := get()
		if err != nil {
			t.Fatalf("waiting for %s to be %s: %v", what, want, err)
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is still %q after %v, want %q", what, got, pollTimeout, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func teaDiskStatus(c *ecs.Client, region, id string) func() (string, error) {
	return func() (string, error) {
		r, err := c.DescribeDisks(&ecs.DescribeDisksRequest{RegionId: tea.String(region), DiskIds: tea.String(`["` + id + `"]`)})
		if err != nil {
			return "", err
		}
		if d := r.Body.Disks.Disk; len(d) == 1 {
			return tea.StringValue(d[0].Status), nil
		}
		return "", fmt.Errorf("DescribeDisks listed %d disks for %s", len(r.Body.Disks.Disk), id)
	}
}

func teaInstanceStatus(c *ecs.Client, id string) func() (string, error) {
	return func() (string, error) {
		r, err := c.DescribeInstanceAttribute(&ecs.DescribeInstanceAttributeRequest{InstanceId: tea.String(id)})
		if err != nil {
			return "", err
		}
		return tea.StringValue(r.Body.Status), nil
	}
}

func teaSnapshotStatus(c *ecs.Client, region, id string) func() (string, error) {
	return func() (string, error) {
		r, err := c.DescribeSnapshots(&ecs.DescribeSnapshotsRequest{RegionId: tea.String(region), SnapshotIds: tea.String(`["` + id + `"]`)})
		if err != nil {
			return "", err
		}
		if s := r.Body.Snapshots.Snapshot; len(s) == 1 {
			return tea.StringValue(s[0].Status), nil
		}
		return "", fmt.Errorf("DescribeSnapshots listed %d snapshots for %s", len(r.Body.Snapshots.Snapshot), id)
	}
}

// exerciseRestore walks the restore actions through their documented
// preconditions with the Tea SDK: a disk made from a snapshot is attached,
// detached and deleted; the instance is stopped (KeepCharging), its disks
// reset one by one and together, and started again; an image is made from
// a system-disk snapshot. One refusal per family checks the SDK decodes
// the error. It leaves the instance Running and no disk behind, so it can
// run again on the same emulator (TestSTSInNamespace does).
func exerciseRestore(t *testing.T, c *ecs.Client, env *ecsemutest.Env, tag string) {
	t.Helper()
	region := tea.String(env.RegionID)
	inst := tea.String(env.InstanceID)
	unique := fmt.Sprintf("%s-%d", tag, time.Now().UnixNano())

	snapOf := func(disk string) string {
		s, err := c.CreateSnapshot(&ecs.CreateSnapshotRequest{DiskId: tea.String(disk), SnapshotName: tea.String("tea-restore")})
		if err != nil {
			t.Fatalf("CreateSnapshot of %s: %v", disk, err)
		}
		return tea.StringValue(s.Body.SnapshotId)
	}
	dataSnap, sysSnap := snapOf(ecsemu.DefaultDataDiskID), snapOf(ecsemu.DefaultSystemDiskID)
	waitFor(t, "snapshot "+dataSnap, "accomplished", teaSnapshotStatus(c, env.RegionID, dataSnap))
	waitFor(t, "snapshot "+sysSnap, "accomplished", teaSnapshotStatus(c, env.RegionID, sysSnap))

	// Restore beside: CreateDisk -> Available -> AttachDisk -> In_use ->
	// DetachDisk -> Available -> DeleteDisk.
	cd, err := c.CreateDisk(&ecs.CreateDiskRequest{
		RegionId: region, ZoneId: tea.String(ecsemu.DefaultZone), SnapshotId: tea.String(dataSnap),
		DiskCategory: tea.String("cloud_essd"), PerformanceLevel: tea.String("PL1"),
		DiskName: tea.String("tea-restore"), ClientToken: tea.String("tea-disk-" + unique),
		Tag: []*ecs.CreateDiskRequestTag{{Key: tea.String("ecssnap:restore-of"), Value: tea.String(dataSnap)}},
	})
	if err != nil {
		t.Fatalf("CreateDisk: %v", err)
	}
	disk := tea.StringValue(cd.Body.DiskId)
	attach := &ecs.AttachDiskRequest{InstanceId: inst, DiskId: tea.String(disk)}
	// Attaching a disk still being created is refused.
	_, err = c.AttachDisk(attach)
	wantTeaError(t, err, "IncorrectDiskStatus", 403)
	waitFor(t, "new disk "+disk, "Available", teaDiskStatus(c, env.RegionID, disk))
	if _, err := c.AttachDisk(attach); err != nil {
		t.Fatalf("AttachDisk: %v", err)
	}
	waitFor(t, "attached disk "+disk, "In_use", teaDiskStatus(c, env.RegionID, disk))
	del := &ecs.DeleteDiskRequest{DiskId: tea.String(disk)}
	_, err = c.DeleteDisk(del)
	wantTeaError(t, err, "DiskStillAttached", 403)
	if _, err := c.DetachDisk(&ecs.DetachDiskRequest{InstanceId: inst, DiskId: tea.String(disk)}); err != nil {
		t.Fatalf("DetachDisk: %v", err)
	}
	waitFor(t, "detached disk "+disk, "Available", teaDiskStatus(c, env.RegionID, disk))
	if _, err := c.DeleteDisk(del); err != nil {
		t.Fatalf("DeleteDisk: %v", err)
	}
	_, err = c.DeleteDisk(del)
	wantTeaError(t, err, "InvalidDiskId.NotFound", 404)

	// In-place rollback: only on a Stopped instance.
	reset := &ecs.ResetDiskRequest{DiskId: tea.String(ecsemu.DefaultDataDiskID), SnapshotId: tea.String(dataSnap)}
	_, err = c.ResetDisk(reset)
	wantTeaError(t, err, "IncorrectInstanceStatus", 403)
	_, err = c.StartInstance(&ecs.StartInstanceRequest{InstanceId: inst})
	wantTeaError(t, err, "IncorrectInstanceStatus", 403)
	if _, err := c.StopInstance(&ecs.StopInstanceRequest{InstanceId: inst, StoppedMode: tea.String("KeepCharging")}); err != nil {
		t.Fatalf("StopInstance: %v", err)
	}
	waitFor(t, "instance", "Stopped", teaInstanceStatus(c, env.InstanceID))
	_, err = c.ResetDisk(&ecs.ResetDiskRequest{DiskId: tea.String(ecsemu.DefaultDataDiskID), SnapshotId: tea.String(sysSnap)})
	wantTeaError(t, err, "InvalidParameter.Mismatch", 403)
	if _, err := c.ResetDisk(reset); err != nil {
		t.Fatalf("ResetDisk: %v", err)
	}
	waitFor(t, "reset data disk", "In_use", teaDiskStatus(c, env.RegionID, ecsemu.DefaultDataDiskID))
	rs, err := c.ResetDisks(&ecs.ResetDisksRequest{RegionId: region, Disk: []*ecs.ResetDisksRequestDisk{
		{DiskId: tea.String(ecsemu.DefaultSystemDiskID), SnapshotId: tea.String(sysSnap)},
		{DiskId: tea.String(ecsemu.DefaultDataDiskID), SnapshotId: tea.String(dataSnap)},
	}})
	if err != nil {
		t.Fatalf("ResetDisks: %v", err)
	}
	ops := rs.Body.OperationProgressSet.OperationProgress
	if len(ops) != 2 {
		t.Fatalf("ResetDisks answered %d results, want 2: %s", len(ops), rs.Body)
	}
	for _, op := range ops {
		if tea.StringValue(op.OperationStatus) != "Success" {
			t.Errorf("ResetDisks result %s", op)
		}
	}
	waitFor(t, "reset system disk", "In_use", teaDiskStatus(c, env.RegionID, ecsemu.DefaultSystemDiskID))
	waitFor(t, "reset data disk", "In_use", teaDiskStatus(c, env.RegionID, ecsemu.DefaultDataDiskID))
	if _, err := c.StartInstance(&ecs.StartInstanceRequest{InstanceId: inst}); err != nil {
		t.Fatalf("StartInstance: %v", err)
	}
	waitFor(t, "instance", "Running", teaInstanceStatus(c, env.InstanceID))

	// An image from a system-disk snapshot (a data-disk one is refused).
	_, err = c.CreateImage(&ecs.CreateImageRequest{RegionId: region, SnapshotId: tea.String(dataSnap)})
	wantTeaError(t, err, "OperationDenied", 403)
	ci, err := c.CreateImage(&ecs.CreateImageRequest{
		RegionId: region, SnapshotId: tea.String(sysSnap), ImageName: tea.String("tea-" + unique),
	})
	if err != nil {
		t.Fatalf("CreateImage: %v", err)
	}
	image := tea.StringValue(ci.Body.ImageId)
	waitFor(t, "image "+image, "Available", func() (string, error) {
		r, err := c.DescribeImages(&ecs.DescribeImagesRequest{RegionId: region, ImageId: tea.String(image), Status: tea.String("Creating,Available")})
		if err != nil {
			return "", err
		}
		if im := r.Body.Images.Image; len(im) == 1 && tea.StringValue(im[0].ImageId) == image {
			return tea.StringValue(im[0].Status), nil
		}
		return "", fmt.Errorf("DescribeImages(%s) = %s", image, r.Body)
	})
}
