package cloud

import (
	"context"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// CountManualSnapshots returns how many manual snapshots the instance's
// disks hold, in one call whatever their number: a page of one by page
// number, whose TotalCount is the count (with NextToken paging TotalCount
// means nothing). When the total is below the per-disk quota, no disk can be
// at its quota, and the per-disk counts are not needed.
func (c *Client) CountManualSnapshots(ctx context.Context, instanceID string) (int, error) {
	return c.countManual(ctx, instanceID, func(req *ecs.DescribeSnapshotsRequest) { req.InstanceId = instanceID })
}

// CountDiskSnapshots returns how many manual snapshots one disk holds, in
// one call.
func (c *Client) CountDiskSnapshots(ctx context.Context, diskID string) (int, error) {
	return c.countManual(ctx, diskID, func(req *ecs.DescribeSnapshotsRequest) { req.DiskId = diskID })
}

// countManual counts the manual snapshots filter selects: a page of one by
// page number, whose TotalCount is the count.
func (c *Client) countManual(ctx context.Context, resource string, filter func(*ecs.DescribeSnapshotsRequest)) (int, error) {
	resp, err := invoke(ctx, c, "DescribeSnapshots", resource, func() *ecs.DescribeSnapshotsRequest {
		req := ecs.CreateDescribeSnapshotsRequest()
		req.RegionId = c.cfg.Region
		filter(req)
		req.SnapshotType = snapshotTypeUser
		req.PageNumber = requests.NewInteger(1)
		req.PageSize = requests.NewInteger(1)
		return req
	}, (*ecs.Client).DescribeSnapshots)
	if err != nil {
		return 0, err
	}
	return resp.TotalCount, nil
}
