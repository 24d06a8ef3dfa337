package cloud

import (
	"context"
	"errors"
	"fmt"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// Permission is what a probe learned about one API action.
type Permission string

const (
	PermissionAllowed Permission = "allowed"
	PermissionDenied  Permission = "denied"
	PermissionUnknown Permission = "unknown"
)

// probeIDs name resources that do not exist: a create or delete aimed at
// them is authorised (or not) by RAM first, then fails as not found,
// without side effects.
const (
	probeDisk     = "d-ecssnapdoctorprobe0"
	probeSnapshot = "s-ecssnapdoctorprobe0"
	probeGroup    = "ssg-ecssnapdoctorprobe"
	probeInstance = "i-ecssnapdoctorprobe0"
	probeImage    = "m-ecssnapdoctorprobe0"
	probeZone     = "ecssnap-doctor-probe-zone"
)

// ProbeActions are the actions ecssnap uses, in the order doctor checks them.
var ProbeActions = []string{
	"DescribeInstances", "DescribeDisks", "DescribeSnapshots", "DescribeSnapshotGroups",
	"CreateSnapshot", "CreateSnapshotGroup", "TagResources", "DeleteSnapshot", "DeleteSnapshotGroup",
	// ecssnap mount and image, inside the instance.
	"CreateDisk", "AttachDisk", "DetachDisk", "DeleteDisk", "CreateImage", "DescribeImages",
}

// RollbackActions are what `ecssnap rollback` calls besides reads and
// CreateSnapshot. It runs outside the instance, so these belong in the
// operator's policy (packaging/ram-policy-rollback.json), not the
// instance's role: an instance that may stop itself and reset its own
// disks is one compromised root away from losing them.
var RollbackActions = []string{"StopInstance", "StartInstance", "ResetDisk", "ResetDisks"}

// Probe finds out whether the credentials may call action, without changing
// anything: reads run with DryRun where the API offers it (success answers
// DryRunOperation), writes are aimed at resources that do not exist (a
// not-found answer means RAM let the call through).
func (c *Client) Probe(ctx context.Context, instanceID, action string) (Permission, error) {
	var err error
	switch action {
	case "DescribeInstances":
		_, err = invoke(ctx, c, action, "", func() *ecs.DescribeInstancesRequest {
			req := ecs.CreateDescribeInstancesRequest()
			req.RegionId, req.InstanceIds, req.DryRun = c.cfg.Region, jsonList([]string{instanceID}), requests.NewBoolean(true)
			return req
		}, (*ecs.Client).DescribeInstances)
	case "DescribeDisks":
		_, err = invoke(ctx, c, action, "", func() *ecs.DescribeDisksRequest {
			req := ecs.CreateDescribeDisksRequest()
			req.RegionId, req.InstanceId, req.DryRun = c.cfg.Region, instanceID, requests.NewBoolean(true)
			return req
		}, (*ecs.Client).DescribeDisks)
	case "DescribeSnapshots":
		_, err = invoke(ctx, c, action, "", func() *ecs.DescribeSnapshotsRequest {
			req := ecs.CreateDescribeSnapshotsRequest()
			req.RegionId, req.InstanceId, req.DryRun = c.cfg.Region, instanceID, requests.NewBoolean(true)
			return req
		}, (*ecs.Client).DescribeSnapshots)
	case "DescribeSnapshotGroups":
		_, err = c.DescribeSnapshotGroups(ctx, instanceID, []string{probeGroup})
	case "CreateSnapshot":
		_, err = c.CreateSnapshot(ctx, CreateSnapshotInput{DiskID: probeDisk, Name: "ecssnap-doctor-probe",
			Description: "ecssnap doctor probe", ClientToken: "ecssnap-doctor-probe-" + probeDisk})
	case "CreateSnapshotGroup":
		_, err = c.CreateSnapshotGroup(ctx, CreateGroupInput{InstanceID: instanceID, DiskIDs: []string{probeDisk},
			Name: "ecssnap-doctor-probe", Description: "ecssnap doctor probe", ClientToken: "ecssnap-doctor-probe-group"})
	case "TagResources":
		err = c.TagSnapshots(ctx, []string{probeSnapshot}, []Tag{{Key: "ecssnap:doctor", Value: "probe"}})
	case "DeleteSnapshot":
		err = c.DeleteSnapshot(ctx, probeSnapshot, false)
	case "DeleteSnapshotGroup":
		err = c.DeleteSnapshotGroup(ctx, probeGroup)
	case "CreateDisk":
		_, err = c.CreateDisk(ctx, CreateDiskInput{ZoneID: probeZone, SnapshotID: probeSnapshot, Category: "cloud_essd",
			PerformanceLevel: "PL1", ClientToken: "ecssnap-doctor-probe-disk"})
	case "AttachDisk":
		err = c.AttachDisk(ctx, instanceID, probeDisk, true)
	case "DetachDisk":
		err = c.DetachDisk(ctx, instanceID, probeDisk)
	case "DeleteDisk":
		err = c.DeleteDisk(ctx, probeDisk)
	case "CreateImage":
		_, err = c.CreateImage(ctx, CreateImageInput{Name: "ecssnap-doctor-probe", ClientToken: "ecssnap-doctor-probe-image",
			Disks: []ImageDisk{{SnapshotID: probeSnapshot, System: true}}})
	case "DescribeImages":
		_, _, err = c.DescribeImage(ctx, probeImage)
	case "StopInstance":
		err = c.StopInstance(ctx, probeInstance, StoppedModeKeepCharging)
	case "StartInstance":
		err = c.StartInstance(ctx, probeInstance)
	case "ResetDisk":
		err = c.ResetDisk(ctx, probeDisk, probeSnapshot)
	case "ResetDisks":
		_, err = c.ResetDisks(ctx, []ResetPair{{DiskID: probeDisk, SnapshotID: probeSnapshot}})
	default:
		return PermissionUnknown, fmt.Errorf("probe: unknown action %s", action)
	}
	var ae *APIError
	switch {
	case err == nil:
		return PermissionAllowed, nil // a delete of a missing resource may simply succeed
	case errors.As(err, &ae) && ae.Code == "DryRunOperation":
		return PermissionAllowed, nil
	case ae != nil && (ae.Kind == KindNotFound || ae.Kind == KindInvalidParameter || ae.Kind == KindDiskState):
		return PermissionAllowed, nil
	case ae != nil && ae.Kind == KindPermission:
		return PermissionDenied, err
	}
	return PermissionUnknown, err
}
