package cloud

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// Error codes of the delete calls (REFERENCE section 3).
const (
	CodeSnapshotNotFound      = "InvalidSnapshotId.NotFound"
	CodeSnapshotGroupNotFound = "InvalidSnapshotGroup.NotFound"
	CodeSnapshotCreatedDisk   = "SnapshotCreatedDisk"
	CodeSnapshotCreatedImage  = "SnapshotCreatedImage"
)

// snapshotTypeUser selects manual snapshots in DescribeSnapshots: the ones
// that count toward the per-disk quota.
const snapshotTypeUser = "user"

// DeleteSnapshot deletes one snapshot. A snapshot that does not exist counts
// as deleted: the docs say an unknown ID gets either 404
// InvalidSnapshotId.NotFound or silent success, and a repeat after a lost
// response must not fail. Force also deletes a snapshot that disks were
// created from (those disks can then no longer be re-initialized); nothing
// overrides SnapshotCreatedImage.
func (c *Client) DeleteSnapshot(ctx context.Context, id string, force bool) error {
	_, err := invoke(ctx, c, "DeleteSnapshot", id, func() *ecs.DeleteSnapshotRequest {
		req := ecs.CreateDeleteSnapshotRequest()
		req.RegionId = c.cfg.Region
		req.SnapshotId = id
		if force {
			req.Force = requests.NewBoolean(true)
		}
		return req
	}, (*ecs.Client).DeleteSnapshot)
	if hasCode(err, CodeSnapshotNotFound) {
		return nil
	}
	return err
}

// DeleteSnapshotGroup deletes a snapshot-consistent group and, as the API
// documents, its member snapshots. A group that does not exist counts as
// deleted. The API keeps a member that a custom image was created from while
// the group itself goes; that is reported as a *MembersKeptError.
func (c *Client) DeleteSnapshotGroup(ctx context.Context, id string) error {
	resp, err := invoke(ctx, c, "DeleteSnapshotGroup", id, func() *ecs.DeleteSnapshotGroupRequest {
		req := ecs.CreateDeleteSnapshotGroupRequest()
		req.RegionId = c.cfg.Region
		req.SnapshotGroupId = id
		return req
	}, (*ecs.Client).DeleteSnapshotGroup)
	if hasCode(err, CodeSnapshotGroupNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var kept []KeptMember
	for _, op := range resp.OperationProgressSet.OperationProgress {
		// The docs' sample pairs OperationStatus Success with an ErrorCode,
		// so only the status decides.
		if strings.EqualFold(op.OperationStatus, "Success") {
			continue
		}
		m := KeptMember{Code: op.ErrorCode, Message: op.ErrorMsg}
		for _, it := range op.RelatedItemSet.RelatedItem {
			if it.Name == "SnapshotId" {
				m.SnapshotID = it.Value
			}
		}
		kept = append(kept, m)
	}
	if len(kept) > 0 {
		return &MembersKeptError{GroupID: id, Kept: kept}
	}
	return nil
}

// KeptMember is a member snapshot that DeleteSnapshotGroup did not delete.
type KeptMember struct {
	SnapshotID string
	Code       string // e.g. SnapshotCreatedImage
	Message    string
}

// MembersKeptError reports a group that was deleted while some of its
// member snapshots were kept; they now stand alone.
type MembersKeptError struct {
	GroupID string
	Kept    []KeptMember
}

func (e *MembersKeptError) Error() string {
	parts := make([]string, len(e.Kept))
	for i, m := range e.Kept {
		parts[i] = m.SnapshotID + " (" + m.Code + ")"
	}
	return fmt.Sprintf("DeleteSnapshotGroup %s: the group was deleted but %d member snapshot(s) were kept: %s",
		e.GroupID, len(e.Kept), strings.Join(parts, ", "))
}

// ListManualSnapshots returns the disk's manual snapshots (SnapshotType
// user, whatever their tags or instance): the ones its quota counts.
func (c *Client) ListManualSnapshots(ctx context.Context, diskID string) ([]Snapshot, error) {
	return c.listSnapshots(ctx, func(req *ecs.DescribeSnapshotsRequest) {
		req.DiskId = diskID
		req.SnapshotType = snapshotTypeUser
	})
}

// hasCode reports whether err is an *APIError with the API error code.
func hasCode(err error, code string) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == code
}
