package ecsemu_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// finished advances the virtual clock past every default restore step
// and every snapshot of the default disks.
func finished(clock *ecsemu.VirtualClock) { clock.Advance(time.Hour) }

func diskStatus(t *testing.T, c *ecs.Client, id string) ecs.Disk {
	t.Helper()
	req := ecs.CreateDescribeDisksRequest()
	req.DiskIds = `["` + id + `"]`
	resp, err := c.DescribeDisks(req)
	if err != nil {
		t.Fatalf("DescribeDisks: %v", err)
	}
	if len(resp.Disks.Disk) != 1 {
		t.Fatalf("DescribeDisks(%s): %d disks", id, len(resp.Disks.Disk))
	}
	return resp.Disks.Disk[0]
}

func instanceStatus(t *testing.T, c *ecs.Client, id string) string {
	t.Helper()
	req := ecs.CreateDescribeInstancesRequest()
	req.InstanceIds = `["` + id + `"]`
	resp, err := c.DescribeInstances(req)
	if err != nil || len(resp.Instances.Instance) != 1 {
		t.Fatalf("DescribeInstances: %v", err)
	}
	return resp.Instances.Instance[0].Status
}

func createDisk(c *ecs.Client, snap string, mod func(*ecs.CreateDiskRequest)) (string, error) {
	req := ecs.CreateCreateDiskRequest()
	req.ZoneId = ecsemu.DefaultZone
	req.SnapshotId = snap
	req.DiskCategory = "cloud_essd"
	req.PerformanceLevel = "PL1"
	req.Tag = &[]ecs.CreateDiskTag{{Key: "ecssnap:restore-of", Value: "job-1"}}
	if mod != nil {
		mod(req)
	}
	resp, err := c.CreateDisk(req)
	if err != nil {
		return "", err
	}
	return resp.DiskId, nil
}

// TestRestoreDiskLifecycle walks a disk made from a snapshot through every
// asynchronous state: Creating, Available, Attaching, In_use, Detaching,
// Available, deleted; with the source snapshot and the tag findable.
func TestRestoreDiskLifecycle(t *testing.T) {
	env, clock, c := startVirtual(t)
	snap := createSnapshot(t, c, ecsemu.DefaultDataDiskID, nil)
	finished(clock)

	id, err := createDisk(c, snap, func(r *ecs.CreateDiskRequest) { r.ClientToken = "tok-1" })
	if err != nil {
		t.Fatalf("CreateDisk: %v", err)
	}
	again, err := createDisk(c, snap, func(r *ecs.CreateDiskRequest) { r.ClientToken = "tok-1" })
	if err != nil || again != id {
		t.Fatalf("CreateDisk replay = %q, %v; want %q", again, err, id)
	}
	d := diskStatus(t, c, id)
	if d.Status != "Creating" || d.SourceSnapshotId != snap || d.Size != 100 || d.Category != "cloud_essd" || d.PerformanceLevel != "PL1" {
		t.Fatalf("new disk = %+v", d)
	}
	// Attaching a disk still being created is refused.
	att := ecs.CreateAttachDiskRequest()
	att.InstanceId, att.DiskId = env.InstanceID, id
	_, err = c.AttachDisk(att)
	wantAPIError(t, err, "IncorrectDiskStatus", http.StatusForbidden)

	finished(clock)
	if d := diskStatus(t, c, id); d.Status != "Available" || d.InstanceId != "" {
		t.Fatalf("after create: %+v", d)
	}
	// Found by the snapshot it came from and by its tag.
	byTag := ecs.CreateDescribeDisksRequest()
	byTag.SnapshotId = snap
	byTag.Tag = &[]ecs.DescribeDisksTag{{Key: "ecssnap:restore-of", Value: "job-1"}}
	resp, err := c.DescribeDisks(byTag)
	if err != nil || len(resp.Disks.Disk) != 1 || resp.Disks.Disk[0].DiskId != id {
		t.Fatalf("DescribeDisks by SnapshotId and tag: %v %+v", err, resp)
	}

	if _, err := c.AttachDisk(att); err != nil {
		t.Fatalf("AttachDisk: %v", err)
	}
	if d := diskStatus(t, c, id); d.Status != "Attaching" {
		t.Fatalf("after AttachDisk: %s", d.Status)
	}
	_, err = c.AttachDisk(att)
	wantAPIError(t, err, "IncorrectDiskStatus", http.StatusForbidden)
	finished(clock)
	d = diskStatus(t, c, id)
	if d.Status != "In_use" || d.InstanceId != env.InstanceID || d.SerialNumber == "" {
		t.Fatalf("after attach: %+v", d)
	}
	_, err = c.AttachDisk(att)
	wantAPIError(t, err, "InvalidDisk.InUse", http.StatusNotFound)

	del := ecs.CreateDeleteDiskRequest()
	del.DiskId = id
	_, err = c.DeleteDisk(del)
	wantAPIError(t, err, "DiskStillAttached", http.StatusForbidden)

	det := ecs.CreateDetachDiskRequest()
	det.InstanceId, det.DiskId = env.InstanceID, id
	if _, err := c.DetachDisk(det); err != nil {
		t.Fatalf("DetachDisk: %v", err)
	}
	if d := diskStatus(t, c, id); d.Status != "Detaching" {
		t.Fatalf("after DetachDisk: %s", d.Status)
	}
	_, err = c.DeleteDisk(del)
	wantAPIError(t, err, "DiskStillAttached", http.StatusForbidden)
	finished(clock)
	if d := diskStatus(t, c, id); d.Status != "Available" || d.InstanceId != "" {
		t.Fatalf("after detach: %+v", d)
	}
	_, err = c.DetachDisk(det)
	wantAPIError(t, err, "InvalidDisk.AlreadyDetached", http.StatusNotFound)

	if _, err := c.DeleteDisk(del); err != nil {
		t.Fatalf("DeleteDisk: %v", err)
	}
	if slices.Contains(env.Emu.DiskIDs(), id) {
		t.Fatal("disk still exists after DeleteDisk")
	}
	_, err = c.DeleteDisk(del)
	wantAPIError(t, err, "InvalidDiskId.NotFound", http.StatusNotFound)
	// The snapshot now backs a disk: DeleteSnapshot needs Force.
	ds := ecs.CreateDeleteSnapshotRequest()
	ds.SnapshotId = snap
	_, err = c.DeleteSnapshot(ds)
	wantAPIError(t, err, "SnapshotCreatedDisk", http.StatusForbidden)
}

func TestCreateDiskRefusals(t *testing.T) {
	env, clock, c := startVirtual(t)
	snap := createSnapshot(t, c, ecsemu.DefaultDataDiskID, nil) // 100 GiB
	sysSnap := createSnapshot(t, c, ecsemu.DefaultSystemDiskID, nil)
	_ = sysSnap
	cases := []struct {
		name   string
		mod    func(*ecs.CreateDiskRequest)
		code   string
		status int
	}{
		{"no zone", func(r *ecs.CreateDiskRequest) { r.ZoneId = "" }, "MissingParameter", 400},
		{"zone and instance", func(r *ecs.CreateDiskRequest) { r.InstanceId = env.InstanceID }, "InvalidParam.ZoneIdAndInstanceId.Conflict", 403},
		{"unknown zone", func(r *ecs.CreateDiskRequest) { r.ZoneId = "cn-hangzhou-z" }, "InvalidZoneId.NotFound", 404},
		{"unknown snapshot", func(r *ecs.CreateDiskRequest) { r.SnapshotId = "s-nope" }, "InvalidSnapshotId.NotFound", 404},
		{"neither snapshot nor size", func(r *ecs.CreateDiskRequest) { r.SnapshotId = "" }, "MissingParameter", 400},
		{"smaller than snapshot", func(r *ecs.CreateDiskRequest) { r.Size = requests.NewInteger(50) }, "InvalidDiskSize.TooSmall", 403},
		{"unknown category", func(r *ecs.CreateDiskRequest) { r.DiskCategory = "cloud_floppy" }, "InvalidDiskCategory.ValueNotSupported", 400},
		{"PL2 too small", func(r *ecs.CreateDiskRequest) { r.PerformanceLevel = "PL2" }, "OperationDenied.PerformanceLevelNotMatch", 403},
		{"reserved tag", func(r *ecs.CreateDiskRequest) {
			r.Tag = &[]ecs.CreateDiskTag{{Key: "acs:x", Value: "y"}}
		}, "InvalidTagKey.Malformed", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(env.Emu.DiskIDs())
			_, err := createDisk(c, snap, tc.mod)
			wantAPIError(t, err, tc.code, tc.status)
			if len(env.Emu.DiskIDs()) != before {
				t.Fatal("a refused CreateDisk created a disk")
			}
		})
	}
	// A non-ESSD snapshot is unusable until finished.
	_ = clock
}

func TestCreateDiskSnapshotNotReady(t *testing.T) {
	sc := ecsemu.DefaultScenario()
	sc.Disks[1].Category = "cloud_efficiency" // no instant access
	_, clock, c := startVirtual(t, ecsemutest.WithScenario(sc))
	snap := createSnapshot(t, c, ecsemu.DefaultDataDiskID, nil)
	_, err := createDisk(c, snap, func(r *ecs.CreateDiskRequest) { r.DiskCategory = "cloud_efficiency"; r.PerformanceLevel = "" })
	wantAPIError(t, err, "InvalidSnapshot.NotReady", http.StatusForbidden)
	clock.Advance(time.Hour)
	if _, err := createDisk(c, snap, func(r *ecs.CreateDiskRequest) { r.DiskCategory = "cloud_efficiency"; r.PerformanceLevel = "" }); err != nil {
		t.Fatalf("CreateDisk after the snapshot finished: %v", err)
	}
}

func TestAttachDiskRefusals(t *testing.T) {
	sc := ecsemu.DefaultScenario()
	sc.Restore.DisksPerInstance = 2 // the system and data disks already fill it
	sc.Instances = []ecsemu.Instance{{ID: "i-otherzone", ZoneID: "cn-hangzhou-j"}}
	env, clock, c := startVirtual(t, ecsemutest.WithScenario(sc))
	snap := createSnapshot(t, c, ecsemu.DefaultDataDiskID, nil)
	id, err := createDisk(c, snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	finished(clock)
	att := ecs.CreateAttachDiskRequest()
	att.InstanceId, att.DiskId = env.InstanceID, id
	_, err = c.AttachDisk(att)
	wantAPIError(t, err, "InstanceDiskLimitExceeded", http.StatusForbidden)
	att.InstanceId = "i-otherzone"
	_, err = c.AttachDisk(att)
	wantAPIError(t, err, "ResourcesNotInSameZone", http.StatusForbidden)
	att.InstanceId = "i-nope"
	_, err = c.AttachDisk(att)
	wantAPIError(t, err, "InvalidInstanceId.NotFound", http.StatusNotFound)
	if v, _ := env.Emu.DiskRestore(id); v.Status != "Available" || v.InstanceID != "" {
		t.Fatalf("refused attaches changed the disk: %+v", v)
	}
}

// TestRollbackStates: ResetDisk needs the instance Stopped, a snapshot of
// the same disk, finished; StopInstance records its StoppedMode; the
// instance passes Stopping, Stopped, Starting, Running.
func TestRollbackStates(t *testing.T) {
	env, clock, c := startVirtual(t)
	dataSnap := createSnapshot(t, c, ecsemu.DefaultDataDiskID, nil)
	sysSnap := createSnapshot(t, c, ecsemu.DefaultSystemDiskID, nil)
	finished(clock)

	reset := ecs.CreateResetDiskRequest()
	reset.DiskId, reset.SnapshotId = ecsemu.DefaultDataDiskID, dataSnap
	_, err := c.ResetDisk(reset)
	wantAPIError(t, err, "IncorrectInstanceStatus", http.StatusForbidden)

	start := ecs.CreateStartInstanceRequest()
	start.InstanceId = env.InstanceID
	_, err = c.StartInstance(start)
	wantAPIError(t, err, "IncorrectInstanceStatus", http.StatusForbidden)

	stop := ecs.CreateStopInstanceRequest()
	stop.InstanceId, stop.StoppedMode = env.InstanceID, "KeepCharging"
	if _, err := c.StopInstance(stop); err != nil {
		t.Fatalf("StopInstance: %v", err)
	}
	if s := instanceStatus(t, c, env.InstanceID); s != "Stopping" {
		t.Fatalf("after StopInstance: %s", s)
	}
	_, err = c.ResetDisk(reset)
	wantAPIError(t, err, "IncorrectInstanceStatus", http.StatusForbidden)
	finished(clock)
	if s := instanceStatus(t, c, env.InstanceID); s != "Stopped" {
		t.Fatalf("after stop: %s", s)
	}
	if m := env.Emu.StoppedMode(env.InstanceID); m != "KeepCharging" {
		t.Fatalf("StoppedMode = %q", m)
	}

	reset.SnapshotId = sysSnap
	_, err = c.ResetDisk(reset)
	wantAPIError(t, err, "InvalidParameter.Mismatch", http.StatusForbidden)
	reset.SnapshotId = "s-nope"
	_, err = c.ResetDisk(reset)
	wantAPIError(t, err, "InvalidSnapshotId.NotFound", http.StatusNotFound)

	// A dry run checks and changes nothing.
	reset.SnapshotId, reset.DryRun = dataSnap, requests.NewBoolean(true)
	_, err = c.ResetDisk(reset)
	wantAPIError(t, err, "DryRunOperation", http.StatusBadRequest)
	if v, _ := env.Emu.DiskRestore(ecsemu.DefaultDataDiskID); len(v.ResetFrom) != 0 {
		t.Fatalf("dry run reset the disk: %+v", v)
	}

	// ResetDisks reports per disk.
	rs := ecs.CreateResetDisksRequest()
	rs.Disk = &[]ecs.ResetDisksDisk{
		{DiskId: ecsemu.DefaultSystemDiskID, SnapshotId: sysSnap},
		{DiskId: ecsemu.DefaultDataDiskID, SnapshotId: sysSnap},
	}
	resp, err := c.ResetDisks(rs)
	if err != nil {
		t.Fatalf("ResetDisks: %v", err)
	}
	ops := resp.OperationProgressSet.OperationProgress
	if len(ops) != 2 || ops[0].OperationStatus != "Success" || ops[1].OperationStatus != "Failed" || ops[1].ErrorCode != "InvalidParameter.Mismatch" {
		t.Fatalf("ResetDisks progress = %+v", ops)
	}
	if d := diskStatus(t, c, ecsemu.DefaultSystemDiskID); d.Status != "ReIniting" {
		t.Fatalf("system disk during reset: %s", d.Status)
	}
	finished(clock)
	if d := diskStatus(t, c, ecsemu.DefaultSystemDiskID); d.Status != "In_use" {
		t.Fatalf("system disk after reset: %s", d.Status)
	}
	v, _ := env.Emu.DiskRestore(ecsemu.DefaultSystemDiskID)
	if !slices.Equal(v.ResetFrom, []string{sysSnap}) {
		t.Fatalf("ResetFrom = %v", v.ResetFrom)
	}
	if v, _ := env.Emu.DiskRestore(ecsemu.DefaultDataDiskID); len(v.ResetFrom) != 0 {
		t.Fatalf("the failed entry reset the data disk: %+v", v)
	}

	// A disk with an unfinished snapshot cannot be reset.
	sc2 := createSnapshot(t, c, ecsemu.DefaultDataDiskID, nil)
	reset = ecs.CreateResetDiskRequest() // the SDK keeps a sent request's parameters
	reset.DiskId, reset.SnapshotId = ecsemu.DefaultDataDiskID, dataSnap
	_, err = c.ResetDisk(reset)
	wantAPIError(t, err, "IncorrectDiskStatus.HasUnfinishedSnapshot", http.StatusForbidden)
	_ = sc2
	finished(clock)
	reset = ecs.CreateResetDiskRequest()
	reset.DiskId, reset.SnapshotId = ecsemu.DefaultDataDiskID, dataSnap
	if _, err := c.ResetDisk(reset); err != nil {
		t.Fatalf("ResetDisk: %v", err)
	}

	if _, err := c.StartInstance(start); err != nil {
		t.Fatalf("StartInstance: %v", err)
	}
	if s := instanceStatus(t, c, env.InstanceID); s != "Starting" {
		t.Fatalf("after StartInstance: %s", s)
	}
	finished(clock)
	if s := instanceStatus(t, c, env.InstanceID); s != "Running" {
		t.Fatalf("after start: %s", s)
	}
}

func TestCreateImage(t *testing.T) {
	env, clock, c := startVirtual(t)
	dataSnap := createSnapshot(t, c, ecsemu.DefaultDataDiskID, nil)
	sysSnap := createSnapshot(t, c, ecsemu.DefaultSystemDiskID, nil)

	req := ecs.CreateCreateImageRequest()
	req.ImageName = "ecssnap-job-1"
	req.ClientToken = "img-1"
	req.DiskDeviceMapping = &[]ecs.CreateImageDiskDeviceMapping{
		{SnapshotId: sysSnap, DiskType: "system"},
		{SnapshotId: dataSnap, DiskType: "data"},
	}
	_, err := c.CreateImage(req)
	wantAPIError(t, err, "InvalidSnapshotId.NotReady", http.StatusForbidden)
	finished(clock)

	bad := ecs.CreateCreateImageRequest()
	bad.SnapshotId = dataSnap
	_, err = c.CreateImage(bad)
	wantAPIError(t, err, "OperationDenied", http.StatusForbidden)
	bad = ecs.CreateCreateImageRequest()
	bad.DiskDeviceMapping = &[]ecs.CreateImageDiskDeviceMapping{{SnapshotId: dataSnap, DiskType: "data"}}
	_, err = c.CreateImage(bad)
	wantAPIError(t, err, "OperationDenied", http.StatusBadRequest)
	_, err = c.CreateImage(ecs.CreateCreateImageRequest())
	wantAPIError(t, err, "MissingParameter", http.StatusBadRequest)

	resp, err := c.CreateImage(req)
	if err != nil {
		t.Fatalf("CreateImage: %v", err)
	}
	again, err := c.CreateImage(req)
	if err != nil || again.ImageId != resp.ImageId {
		t.Fatalf("CreateImage replay = %v, %v", again, err)
	}
	req.ClientToken = "img-2"
	_, err = c.CreateImage(req)
	wantAPIError(t, err, "InvalidImageName.Duplicated", http.StatusBadRequest)

	list := func(status string) []ecs.Image {
		d := ecs.CreateDescribeImagesRequest()
		d.ImageId, d.Status, d.ImageOwnerAlias = resp.ImageId, status, "self"
		r, err := c.DescribeImages(d)
		if err != nil {
			t.Fatalf("DescribeImages: %v", err)
		}
		return r.Images.Image
	}
	if got := list(""); len(got) != 0 {
		t.Fatalf("a Creating image is listed under the default Status=Available: %+v", got)
	}
	if got := list("Creating,Available"); len(got) != 1 || got[0].Status != "Creating" {
		t.Fatalf("while creating: %+v", got)
	}
	finished(clock)
	got := list("")
	if len(got) != 1 || got[0].Status != "Available" || len(got[0].DiskDeviceMappings.DiskDeviceMapping) != 2 {
		t.Fatalf("after creation: %+v", got)
	}
	m := got[0].DiskDeviceMappings.DiskDeviceMapping
	if m[0].SnapshotId != sysSnap || m[0].Device != "/dev/xvda" || m[1].SnapshotId != dataSnap || m[1].Device != "/dev/xvdb" {
		t.Fatalf("mappings = %+v", m)
	}
	ds := ecs.CreateDeleteSnapshotRequest()
	ds.SnapshotId = sysSnap
	_, err = c.DeleteSnapshot(ds)
	wantAPIError(t, err, "SnapshotCreatedImage", http.StatusForbidden)
	if imgs := env.Emu.Images(); len(imgs) != 1 || imgs[0].System != sysSnap {
		t.Fatalf("Images() = %+v", imgs)
	}
}

// TestCreateDiskTokenInFlight: a repeat of a CreateDisk still in flight
// gets CreateDisk's own LastTokenProcessing; once the first finishes, the
// repeat gets its disk.
func TestCreateDiskTokenInFlight(t *testing.T) {
	env, clock, c := startVirtual(t)
	snap := createSnapshot(t, c, ecsemu.DefaultDataDiskID, nil)
	finished(clock)
	hold := env.Emu.HoldCalls("CreateDisk")
	first := make(chan string, 1)
	go func() {
		id, err := createDisk(c, snap, func(r *ecs.CreateDiskRequest) { r.ClientToken = "in-flight" })
		if err != nil {
			t.Errorf("first CreateDisk: %v", err)
		}
		first <- id
	}()
	<-hold.Arrived()
	_, err := createDisk(c, snap, func(r *ecs.CreateDiskRequest) { r.ClientToken = "in-flight" })
	wantAPIError(t, err, "LastTokenProcessing", http.StatusForbidden)
	hold.Release()
	id := <-first
	again, err := createDisk(c, snap, func(r *ecs.CreateDiskRequest) { r.ClientToken = "in-flight" })
	if err != nil || again != id {
		t.Fatalf("repeat after the first finished = %q, %v; want %q", again, err, id)
	}
}
