package cloud

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// groupsPageSize is the MaxResults of DescribeSnapshotGroups when listing
// (1..100).
const groupsPageSize = 100

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
	err := c.call(ctx, rpc{
		action: "DeleteSnapshot", resource: id,
		request: func() requests.AcsRequest {
			req := ecs.CreateDeleteSnapshotRequest()
			req.RegionId = c.cfg.Region
			req.SnapshotId = id
			if force {
				req.Force = requests.NewBoolean(true)
			}
			return req
		},
		send: func(cl *ecs.Client, req requests.AcsRequest) error {
			_, err := cl.DeleteSnapshot(req.(*ecs.DeleteSnapshotRequest))
			return err
		},
	})
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
	var resp *ecs.DeleteSnapshotGroupResponse
	err := c.call(ctx, rpc{
		action: "DeleteSnapshotGroup", resource: id,
		request: func() requests.AcsRequest {
			req := ecs.CreateDeleteSnapshotGroupRequest()
			req.RegionId = c.cfg.Region
			req.SnapshotGroupId = id
			return req
		},
		send: func(cl *ecs.Client, req requests.AcsRequest) (err error) {
			resp, err = cl.DeleteSnapshotGroup(req.(*ecs.DeleteSnapshotGroupRequest))
			return err
		},
	})
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

// ListSnapshotGroupsByTag returns the instance's snapshot-consistent groups
// that carry the tag, following NextToken to the end.
func (c *Client) ListSnapshotGroupsByTag(ctx context.Context, instanceID string, tag Tag) ([]SnapshotGroup, error) {
	var out []SnapshotGroup
	err := eachPage(func(token string) (string, error) {
		var resp *ecs.DescribeSnapshotGroupsResponse
		err := c.call(ctx, rpc{
			action: "DescribeSnapshotGroups", resource: instanceID,
			request: func() requests.AcsRequest {
				req := ecs.CreateDescribeSnapshotGroupsRequest()
				req.RegionId = c.cfg.Region
				req.InstanceId = instanceID
				req.Tag = &[]ecs.DescribeSnapshotGroupsTag{{Key: tag.Key, Value: tag.Value}}
				req.MaxResults = requests.NewInteger(groupsPageSize)
				req.NextToken = token
				return req
			},
			send: func(cl *ecs.Client, req requests.AcsRequest) (err error) {
				resp, err = cl.DescribeSnapshotGroups(req.(*ecs.DescribeSnapshotGroupsRequest))
				return err
			},
		})
		if err != nil {
			return "", err
		}
		for _, g := range resp.SnapshotGroups.SnapshotGroup {
			out = append(out, fromSDKGroup(g))
		}
		return resp.NextToken, nil
	})
	return out, err
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
