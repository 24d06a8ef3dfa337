package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// Page and batch sizes the API allows (REFERENCE section 3).
const (
	disksPageSize     = 100
	snapshotsPerCall  = 100
	groupsPerCall     = 10
	groupsPageSize    = 100
	snapshotsPageSize = 100
)

// DescribeInstance returns the instance's status and operation locks.
func (c *Client) DescribeInstance(ctx context.Context, instanceID string) (Instance, error) {
	resp, err := invoke(ctx, c, "DescribeInstances", instanceID, func() *ecs.DescribeInstancesRequest {
		req := ecs.CreateDescribeInstancesRequest()
		req.RegionId = c.cfg.Region
		req.InstanceIds = jsonList([]string{instanceID})
		return req
	}, (*ecs.Client).DescribeInstances)
	if err != nil {
		return Instance{}, err
	}
	if len(resp.Instances.Instance) == 0 {
		return Instance{}, &APIError{Action: "DescribeInstances", Resource: instanceID, Code: "InvalidInstanceId.NotFound", Kind: KindNotFound}
	}
	in := resp.Instances.Instance[0]
	out := Instance{ID: in.InstanceId, Status: in.Status, ZoneID: in.ZoneId, Type: in.InstanceType}
	for _, l := range in.OperationLocks.LockReason {
		out.Locks = append(out.Locks, l.LockReason)
	}
	return out, nil
}

// DescribeDisks returns every disk attached to the instance, following
// NextToken to the end of the list.
func (c *Client) DescribeDisks(ctx context.Context, instanceID string) ([]Disk, error) {
	return c.listDisks(ctx, instanceID, func(req *ecs.DescribeDisksRequest) { req.InstanceId = instanceID })
}

// eachPage calls page with "" and then with each NextToken it returns,
// until the list ends: an empty token, or one that repeats (a server that
// would otherwise loop forever).
func eachPage(page func(token string) (next string, err error)) error {
	token := ""
	for {
		next, err := page(token)
		if err != nil || next == "" || next == token {
			return err
		}
		token = next
	}
}

// listAll collects the items of every page of one Describe call: build
// makes the request for a page token, items takes a page's converted items
// and its NextToken. The disk, snapshot and group listers all page this way.
func listAll[Req requests.AcsRequest, Resp any, T any](ctx context.Context, c *Client, action, resource string,
	build func(token string) Req, send func(*ecs.Client, Req) (Resp, error), items func(Resp) ([]T, string)) ([]T, error) {
	var out []T
	err := eachPage(func(token string) (string, error) {
		resp, err := invoke(ctx, c, action, resource, func() Req { return build(token) }, send)
		if err != nil {
			return "", err
		}
		got, next := items(resp)
		out = append(out, got...)
		return next, nil
	})
	return out, err
}

// convert maps each item to another type: SDK items to the package's own
// types, and tags to the per-action tag type of each SDK request.
func convert[S, T any](in []S, f func(S) T) []T {
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// inBatches calls describe with successive batches of at most n IDs, the
// API's limit on IDs per call, and joins the results.
func inBatches[T any](ids []string, n int, describe func(batch []string) ([]T, error)) ([]T, error) {
	var out []T
	for start := 0; start < len(ids); start += n {
		got, err := describe(ids[start:min(start+n, len(ids))])
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// CreateSnapshotInput is one per-disk snapshot to create.
type CreateSnapshotInput struct {
	DiskID        string
	Name          string
	Description   string
	RetentionDays int // 0 keeps the snapshot until deleted
	Tags          []Tag
	ClientToken   string // required: makes every repeat of the call idempotent
}

// CreateSnapshot creates one snapshot and returns its ID. Temporary failures
// are repeated with the same ClientToken, so at most one snapshot results.
func (c *Client) CreateSnapshot(ctx context.Context, in CreateSnapshotInput) (string, error) {
	if in.ClientToken == "" {
		return "", fmt.Errorf("CreateSnapshot %s: a ClientToken is required", in.DiskID)
	}
	resp, err := invoke(ctx, c, "CreateSnapshot", in.DiskID, func() *ecs.CreateSnapshotRequest {
		req := ecs.CreateCreateSnapshotRequest()
		req.RegionId = c.cfg.Region
		req.DiskId = in.DiskID
		req.SnapshotName = in.Name
		req.Description = in.Description
		req.ClientToken = in.ClientToken
		if in.RetentionDays > 0 {
			req.RetentionDays = requests.NewInteger(in.RetentionDays)
		}
		tags := convert(in.Tags, func(t Tag) ecs.CreateSnapshotTag { return ecs.CreateSnapshotTag{Key: t.Key, Value: t.Value} })
		req.Tag = &tags
		return req
	}, (*ecs.Client).CreateSnapshot)
	if err != nil {
		return "", err
	}
	return resp.SnapshotId, nil
}

// CreateGroupInput is one snapshot-consistent group to create.
type CreateGroupInput struct {
	InstanceID  string
	DiskIDs     []string
	Name        string
	Description string
	Tags        []Tag
	ClientToken string
}

// CreateSnapshotGroup creates one snapshot-consistent group of the listed
// disks and returns its ID, with the same idempotency as CreateSnapshot.
func (c *Client) CreateSnapshotGroup(ctx context.Context, in CreateGroupInput) (string, error) {
	if in.ClientToken == "" {
		return "", fmt.Errorf("CreateSnapshotGroup: a ClientToken is required")
	}
	resp, err := invoke(ctx, c, "CreateSnapshotGroup", in.InstanceID, func() *ecs.CreateSnapshotGroupRequest {
		req := ecs.CreateCreateSnapshotGroupRequest()
		req.RegionId = c.cfg.Region
		req.InstanceId = in.InstanceID
		disks := append([]string(nil), in.DiskIDs...)
		req.DiskId = &disks
		req.Name = in.Name
		req.Description = in.Description
		req.ClientToken = in.ClientToken
		tags := convert(in.Tags, func(t Tag) ecs.CreateSnapshotGroupTag { return ecs.CreateSnapshotGroupTag{Key: t.Key, Value: t.Value} })
		req.Tag = &tags
		return req
	}, (*ecs.Client).CreateSnapshotGroup)
	if err != nil {
		return "", err
	}
	return resp.SnapshotGroupId, nil
}

// DescribeSnapshots returns the listed snapshots, 100 IDs per call. Snapshots
// that no longer exist are absent from the result.
func (c *Client) DescribeSnapshots(ctx context.Context, ids []string) ([]Snapshot, error) {
	return inBatches(ids, snapshotsPerCall, func(batch []string) ([]Snapshot, error) {
		return c.listSnapshots(ctx, func(req *ecs.DescribeSnapshotsRequest) {
			req.SnapshotIds = jsonList(batch)
		})
	})
}

// ListSnapshotsByTag returns the instance's snapshots that carry the tag,
// following NextToken to the end.
func (c *Client) ListSnapshotsByTag(ctx context.Context, instanceID string, tag Tag) ([]Snapshot, error) {
	return c.listSnapshots(ctx, func(req *ecs.DescribeSnapshotsRequest) {
		req.InstanceId = instanceID
		req.Tag = &[]ecs.DescribeSnapshotsTag{{Key: tag.Key, Value: tag.Value}}
	})
}

func (c *Client) listSnapshots(ctx context.Context, filter func(*ecs.DescribeSnapshotsRequest)) ([]Snapshot, error) {
	return listAll(ctx, c, "DescribeSnapshots", "", func(token string) *ecs.DescribeSnapshotsRequest {
		req := ecs.CreateDescribeSnapshotsRequest()
		req.RegionId = c.cfg.Region
		req.MaxResults = requests.NewInteger(snapshotsPageSize)
		req.NextToken = token
		filter(req)
		return req
	}, (*ecs.Client).DescribeSnapshots, func(resp *ecs.DescribeSnapshotsResponse) ([]Snapshot, string) {
		return convert(resp.Snapshots.Snapshot, fromSDKSnapshot), resp.NextToken
	})
}

// DescribeSnapshotGroups returns the listed groups of the instance, 10 per
// call (the API's limit on SnapshotGroupId.N).
func (c *Client) DescribeSnapshotGroups(ctx context.Context, instanceID string, ids []string) ([]SnapshotGroup, error) {
	return inBatches(ids, groupsPerCall, func(batch []string) ([]SnapshotGroup, error) {
		batch = append([]string(nil), batch...)
		return c.listGroups(ctx, instanceID, func(req *ecs.DescribeSnapshotGroupsRequest) {
			req.SnapshotGroupId = &batch
		})
	})
}

// ListSnapshotGroupsByTag returns the instance's snapshot-consistent groups
// that carry the tag, following NextToken to the end.
func (c *Client) ListSnapshotGroupsByTag(ctx context.Context, instanceID string, tag Tag) ([]SnapshotGroup, error) {
	return c.listGroups(ctx, instanceID, func(req *ecs.DescribeSnapshotGroupsRequest) {
		req.Tag = &[]ecs.DescribeSnapshotGroupsTag{{Key: tag.Key, Value: tag.Value}}
	})
}

// listGroups pages through the instance's groups that pass filter. A page
// holds more groups than one call may name, so a call by IDs is one page.
func (c *Client) listGroups(ctx context.Context, instanceID string, filter func(*ecs.DescribeSnapshotGroupsRequest)) ([]SnapshotGroup, error) {
	return listAll(ctx, c, "DescribeSnapshotGroups", instanceID, func(token string) *ecs.DescribeSnapshotGroupsRequest {
		req := ecs.CreateDescribeSnapshotGroupsRequest()
		req.RegionId = c.cfg.Region
		req.InstanceId = instanceID
		req.MaxResults = requests.NewInteger(groupsPageSize)
		req.NextToken = token
		filter(req)
		return req
	}, (*ecs.Client).DescribeSnapshotGroups, func(resp *ecs.DescribeSnapshotGroupsResponse) ([]SnapshotGroup, string) {
		return convert(resp.SnapshotGroups.SnapshotGroup, fromSDKGroup), resp.NextToken
	})
}

// jsonList renders IDs the way the API wants list filters: a JSON array in a string.
func jsonList(ids []string) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

// tagsPerCall is the API's limit on ResourceId.N of TagResources.
const tagsPerCall = 50

// TagSnapshots adds tags to snapshots, 50 per call.
func (c *Client) TagSnapshots(ctx context.Context, ids []string, tags []Tag) error {
	for start := 0; start < len(ids); start += tagsPerCall {
		batch := append([]string(nil), ids[start:min(start+tagsPerCall, len(ids))]...)
		_, err := invoke(ctx, c, "TagResources", batch[0], func() *ecs.TagResourcesRequest {
			req := ecs.CreateTagResourcesRequest()
			req.RegionId = c.cfg.Region
			req.ResourceType = "snapshot"
			req.ResourceId = &batch
			t := convert(tags, func(t Tag) ecs.TagResourcesTag { return ecs.TagResourcesTag{Key: t.Key, Value: t.Value} })
			req.Tag = &t
			return req
		}, (*ecs.Client).TagResources)
		if err != nil {
			return err
		}
	}
	return nil
}

// Preflight readies the client for a create that must be fast (inside a
// freeze window): it refreshes the credentials, resolves and pins the
// endpoint's addresses, and opens conns connections with that many
// concurrent reads, so the creates need no DNS lookup and no TLS handshake.
// The reads list the instance's snapshots still in progress, which the
// caller checks against disks that allow one snapshot task at a time.
func (c *Client) Preflight(ctx context.Context, instanceID string, conns int) ([]Snapshot, error) {
	if _, err := c.creds.GetCredentials(); err != nil {
		return nil, &APIError{Action: "Preflight", Kind: KindNoCredentials, Err: err}
	}
	port := "443"
	if c.scheme == "http" {
		port = "80"
	}
	addr := c.host
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, port)
	}
	if err := c.dialer.Resolve(ctx, addr); err != nil {
		return nil, &APIError{Action: "Preflight", Resource: c.host, Kind: KindTransport, Err: err}
	}
	conns = max(conns, 1)
	results := make([][]Snapshot, conns)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = c.ProgressingSnapshots(ctx, instanceID)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return results[0], nil
}
