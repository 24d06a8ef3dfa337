package cloud

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// Error codes of the restore calls (reference/restore.md §1) that callers
// act on rather than report.
const (
	CodeDiskNotFound      = "InvalidDiskId.NotFound"
	CodeDiskAlreadyDetach = "InvalidDisk.AlreadyDetached"
	CodeDiskInUse         = "InvalidDisk.InUse"
	CodeDiskLimit         = "InstanceDiskLimitExceeded"
	CodeResetMismatch     = "InvalidParameter.Mismatch"
	CodeInstanceStatus    = "IncorrectInstanceStatus"
	CodeImageDuplicated   = "InvalidImageName.Duplicated"
)

// StoppedModeKeepCharging is the stop a rollback needs: an instance stopped
// in economical mode may not start again after its disks are rolled back.
const StoppedModeKeepCharging = "KeepCharging"

// CreateDiskInput is one pay-as-you-go disk made from a snapshot.
type CreateDiskInput struct {
	ZoneID           string
	SnapshotID       string
	Category         string // always explicit: the API's default is the basic "cloud" disk
	PerformanceLevel string // ESSD only
	SizeGiB          int    // at least the snapshot's source size
	Name             string
	Description      string
	Tags             []Tag
	ClientToken      string // required
}

// CreateDisk creates a disk from a snapshot in a zone and returns its ID.
// Temporary failures are repeated with the same ClientToken.
func (c *Client) CreateDisk(ctx context.Context, in CreateDiskInput) (string, error) {
	if in.ClientToken == "" {
		return "", fmt.Errorf("CreateDisk from %s: a ClientToken is required", in.SnapshotID)
	}
	resp, err := invoke(ctx, c, "CreateDisk", in.SnapshotID, func() *ecs.CreateDiskRequest {
		req := ecs.CreateCreateDiskRequest()
		req.RegionId = c.cfg.Region
		req.ZoneId = in.ZoneID
		req.SnapshotId = in.SnapshotID
		req.DiskCategory = in.Category
		req.PerformanceLevel = in.PerformanceLevel
		if in.SizeGiB > 0 {
			req.Size = requests.NewInteger(in.SizeGiB)
		}
		req.DiskName = in.Name
		req.Description = in.Description
		req.ClientToken = in.ClientToken
		tags := convert(in.Tags, func(t Tag) ecs.CreateDiskTag { return ecs.CreateDiskTag{Key: t.Key, Value: t.Value} })
		req.Tag = &tags
		return req
	}, (*ecs.Client).CreateDisk)
	if err != nil {
		return "", err
	}
	return resp.DiskId, nil
}

// AttachDisk attaches a data disk to an instance. The call has no
// ClientToken: callers check the disk's state before repeating it.
func (c *Client) AttachDisk(ctx context.Context, instanceID, diskID string, deleteWithInstance bool) error {
	_, err := invoke(ctx, c, "AttachDisk", diskID, func() *ecs.AttachDiskRequest {
		req := ecs.CreateAttachDiskRequest()
		req.RegionId = c.cfg.Region
		req.InstanceId = instanceID
		req.DiskId = diskID
		req.DeleteWithInstance = requests.NewBoolean(deleteWithInstance)
		return req
	}, (*ecs.Client).AttachDisk)
	return err
}

// DetachDisk detaches a disk. A disk already detached counts as detached.
func (c *Client) DetachDisk(ctx context.Context, instanceID, diskID string) error {
	_, err := invoke(ctx, c, "DetachDisk", diskID, func() *ecs.DetachDiskRequest {
		req := ecs.CreateDetachDiskRequest()
		req.RegionId = c.cfg.Region
		req.InstanceId = instanceID
		req.DiskId = diskID
		return req
	}, (*ecs.Client).DetachDisk)
	if hasCode(err, CodeDiskAlreadyDetach) {
		return nil
	}
	return err
}

// DeleteDisk releases a detached disk. A disk that does not exist counts
// as deleted (the API documents both "ignored" and a 404).
func (c *Client) DeleteDisk(ctx context.Context, diskID string) error {
	_, err := invoke(ctx, c, "DeleteDisk", diskID, func() *ecs.DeleteDiskRequest {
		req := ecs.CreateDeleteDiskRequest()
		req.RegionId = c.cfg.Region
		req.DiskId = diskID
		return req
	}, (*ecs.Client).DeleteDisk)
	if hasCode(err, CodeDiskNotFound) {
		return nil
	}
	return err
}

// DescribeDisksByID returns the listed disks that exist, 100 per call.
func (c *Client) DescribeDisksByID(ctx context.Context, ids []string) ([]Disk, error) {
	return inBatches(ids, disksPageSize, func(batch []string) ([]Disk, error) {
		return c.listDisks(ctx, "", func(req *ecs.DescribeDisksRequest) { req.DiskIds = jsonList(batch) })
	})
}

// ListDisksByTag returns every disk of the region that carries the tag.
func (c *Client) ListDisksByTag(ctx context.Context, tag Tag) ([]Disk, error) {
	return c.listDisks(ctx, tag.Key, func(req *ecs.DescribeDisksRequest) {
		req.Tag = &[]ecs.DescribeDisksTag{{Key: tag.Key, Value: tag.Value}}
	})
}

// ListDisksFromSnapshot returns the disks created from a snapshot: the
// second way to find a restore's leftovers, independent of tags.
func (c *Client) ListDisksFromSnapshot(ctx context.Context, snapshotID string) ([]Disk, error) {
	return c.listDisks(ctx, snapshotID, func(req *ecs.DescribeDisksRequest) { req.SnapshotId = snapshotID })
}

func (c *Client) listDisks(ctx context.Context, resource string, filter func(*ecs.DescribeDisksRequest)) ([]Disk, error) {
	return listAll(ctx, c, "DescribeDisks", resource, func(token string) *ecs.DescribeDisksRequest {
		req := ecs.CreateDescribeDisksRequest()
		req.RegionId = c.cfg.Region
		req.MaxResults = requests.NewInteger(disksPageSize)
		req.NextToken = token
		filter(req)
		return req
	}, (*ecs.Client).DescribeDisks, func(resp *ecs.DescribeDisksResponse) ([]Disk, string) {
		return convert(resp.Disks.Disk, fromSDKDisk), resp.NextToken
	})
}

// ResetDisk rolls one disk back to a snapshot of that disk. The instance
// must be Stopped. The call returns before the reset is done.
func (c *Client) ResetDisk(ctx context.Context, diskID, snapshotID string) error {
	_, err := invoke(ctx, c, "ResetDisk", diskID, func() *ecs.ResetDiskRequest {
		req := ecs.CreateResetDiskRequest()
		req.RegionId = c.cfg.Region
		req.DiskId = diskID
		req.SnapshotId = snapshotID
		return req
	}, (*ecs.Client).ResetDisk)
	return err
}

// ResetPair is one disk and the snapshot to roll it back to.
type ResetPair struct {
	DiskID     string `json:"disk_id"`
	SnapshotID string `json:"snapshot_id"`
}

// ResetResult is ResetDisks' answer for one disk.
type ResetResult struct {
	DiskID  string `json:"disk_id"`
	OK      bool   `json:"ok"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// ResetDisks rolls several disks back in one call and returns each disk's
// result: the API reports per disk, and a partial success is possible.
func (c *Client) ResetDisks(ctx context.Context, pairs []ResetPair) ([]ResetResult, error) {
	resp, err := invoke(ctx, c, "ResetDisks", "", func() *ecs.ResetDisksRequest {
		req := ecs.CreateResetDisksRequest()
		req.RegionId = c.cfg.Region
		disks := make([]ecs.ResetDisksDisk, len(pairs))
		for i, p := range pairs {
			disks[i] = ecs.ResetDisksDisk{DiskId: p.DiskID, SnapshotId: p.SnapshotID}
		}
		req.Disk = &disks
		return req
	}, (*ecs.Client).ResetDisks)
	if err != nil {
		return nil, err
	}
	var out []ResetResult
	for _, op := range resp.OperationProgressSet.OperationProgress {
		r := ResetResult{OK: op.OperationStatus == "Success", Code: op.ErrorCode, Message: op.ErrorMsg}
		for _, it := range op.RelatedItemSet.RelatedItem {
			if it.Name == "DiskId" {
				r.DiskID = it.Value
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// StopInstance stops an instance in the given StoppedMode.
func (c *Client) StopInstance(ctx context.Context, instanceID, stoppedMode string) error {
	_, err := invoke(ctx, c, "StopInstance", instanceID, func() *ecs.StopInstanceRequest {
		req := ecs.CreateStopInstanceRequest()
		req.RegionId = c.cfg.Region
		req.InstanceId = instanceID
		req.StoppedMode = stoppedMode
		return req
	}, (*ecs.Client).StopInstance)
	return err
}

// StartInstance starts a stopped instance.
func (c *Client) StartInstance(ctx context.Context, instanceID string) error {
	_, err := invoke(ctx, c, "StartInstance", instanceID, func() *ecs.StartInstanceRequest {
		req := ecs.CreateStartInstanceRequest()
		req.RegionId = c.cfg.Region
		req.InstanceId = instanceID
		return req
	}, (*ecs.Client).StartInstance)
	return err
}

// ImageDisk is one disk of a custom image.
type ImageDisk struct {
	SnapshotID string `json:"snapshot_id"`
	System     bool   `json:"system"`
	SizeGiB    int    `json:"size_gib,omitempty"`
}

// CreateImageInput is a custom image made of snapshots: one system disk and
// any number of data disks (DiskDeviceMapping).
type CreateImageInput struct {
	Name        string
	Description string
	Disks       []ImageDisk
	Tags        []Tag
	ClientToken string // required
}

// CreateImage creates a custom image and returns its ID.
func (c *Client) CreateImage(ctx context.Context, in CreateImageInput) (string, error) {
	if in.ClientToken == "" {
		return "", fmt.Errorf("CreateImage %s: a ClientToken is required", in.Name)
	}
	resp, err := invoke(ctx, c, "CreateImage", in.Name, func() *ecs.CreateImageRequest {
		req := ecs.CreateCreateImageRequest()
		req.RegionId = c.cfg.Region
		req.ImageName = in.Name
		req.Description = in.Description
		req.ClientToken = in.ClientToken
		maps := make([]ecs.CreateImageDiskDeviceMapping, len(in.Disks))
		for i, d := range in.Disks {
			m := ecs.CreateImageDiskDeviceMapping{SnapshotId: d.SnapshotID, DiskType: "data"}
			if d.System {
				m.DiskType = "system"
			}
			if d.SizeGiB > 0 {
				m.Size = strconv.Itoa(d.SizeGiB)
			}
			maps[i] = m
		}
		req.DiskDeviceMapping = &maps
		tags := convert(in.Tags, func(t Tag) ecs.CreateImageTag { return ecs.CreateImageTag{Key: t.Key, Value: t.Value} })
		req.Tag = &tags
		return req
	}, (*ecs.Client).CreateImage)
	if err != nil {
		return "", err
	}
	return resp.ImageId, nil
}

// Image is one custom image as DescribeImages reports it.
type Image struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Status   string `json:"status"`
	Progress int    `json:"progress"`
}

// imageStatusesAll lists every status, because DescribeImages shows only
// Available images unless told otherwise.
const imageStatusesAll = "Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated"

// DescribeImage returns one of the account's images; ok is false when it
// does not exist.
func (c *Client) DescribeImage(ctx context.Context, id string) (Image, bool, error) {
	resp, err := invoke(ctx, c, "DescribeImages", id, func() *ecs.DescribeImagesRequest {
		req := ecs.CreateDescribeImagesRequest()
		req.RegionId = c.cfg.Region
		req.ImageId = id
		req.ImageOwnerAlias = "self"
		req.Status = imageStatusesAll
		return req
	}, (*ecs.Client).DescribeImages)
	if err != nil {
		return Image{}, false, err
	}
	for _, im := range resp.Images.Image {
		if im.ImageId == id {
			return Image{ID: im.ImageId, Name: im.ImageName, Status: im.Status, Progress: percent(im.Progress)}, true, nil
		}
	}
	return Image{}, false, nil
}

// ProgressingSnapshots lists the instance's snapshots still being created:
// ResetDisk refuses a disk that has one (HasUnfinishedSnapshot), which a
// rollback must know before it stops the instance.
func (c *Client) ProgressingSnapshots(ctx context.Context, instanceID string) ([]Snapshot, error) {
	return c.listSnapshots(ctx, func(req *ecs.DescribeSnapshotsRequest) {
		req.InstanceId = instanceID
		req.Status = StatusProgressing
	})
}
