package sdkcompat

import (
	"fmt"
	"slices"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// Every action the emulator serves, through the Tea SDK as a user calls
// it, signed V3 (the default) and V1: the SDK sends RegionId only where
// the API has one, and the emulator accepts what the cloud accepts.
func TestTeaEveryAction(t *testing.T) {
	for _, mode := range []string{signV3, signV1} {
		t.Run(mode, func(t *testing.T) {
			env := startTLS(t, ecsemutest.WithScenario(quickRestore(ecsemu.DefaultScenario())))
			c := teaClient(t, teaConfig(t, env, mode))
			exerciseEveryAction(t, c, env)
			calls := env.Emu.Calls()
			wantEveryAction(t, calls, mode)
			wantNoRegionID(t, calls, "CreateSnapshot", "DeleteSnapshot", "ModifySnapshotAttribute", "DescribeInstanceAttribute")
		})
	}
}

// exerciseEveryAction walks one snapshot and one group through their life,
// then the restore actions (exerciseRestore), checking each answer as the
// SDK decoded it. The emulator's scenario must be quickRestore's.
func exerciseEveryAction(t *testing.T, c *ecs.Client, env *ecsemutest.Env) {
	t.Helper()
	region := tea.String(env.RegionID)
	// Earlier runs on the same emulator may have left snapshots that back
	// images, which cannot be deleted.
	before := len(env.Emu.State().Snapshots)

	inst, err := c.DescribeInstances(&ecs.DescribeInstancesRequest{RegionId: region})
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	if got := inst.Body.Instances.Instance; len(got) != 1 || tea.StringValue(got[0].InstanceId) != env.InstanceID {
		t.Fatalf("DescribeInstances listed %d instances", len(got))
	}

	attr, err := c.DescribeInstanceAttribute(&ecs.DescribeInstanceAttributeRequest{InstanceId: tea.String(env.InstanceID)})
	if err != nil {
		t.Fatalf("DescribeInstanceAttribute: %v", err)
	}
	if tea.StringValue(attr.Body.Status) != "Running" || tea.StringValue(attr.Body.RegionId) != env.RegionID ||
		tea.StringValue(attr.Body.IoOptimized) != "optimized" {
		t.Errorf("DescribeInstanceAttribute = %s", attr.Body)
	}

	st, err := c.DescribeInstanceStatus(&ecs.DescribeInstanceStatusRequest{RegionId: region})
	if err != nil {
		t.Fatalf("DescribeInstanceStatus: %v", err)
	}
	if s := st.Body.InstanceStatuses.InstanceStatus; tea.Int32Value(st.Body.TotalCount) != 1 || len(s) != 1 ||
		tea.StringValue(s[0].InstanceId) != env.InstanceID || tea.StringValue(s[0].Status) != "Running" {
		t.Errorf("DescribeInstanceStatus = %s", st.Body)
	}

	disks, err := c.DescribeDisks(&ecs.DescribeDisksRequest{RegionId: region, InstanceId: tea.String(env.InstanceID)})
	if err != nil {
		t.Fatalf("DescribeDisks: %v", err)
	}
	if n := len(disks.Body.Disks.Disk); n != 2 {
		t.Fatalf("DescribeDisks listed %d disks, want 2", n)
	}

	snap, err := c.CreateSnapshot(&ecs.CreateSnapshotRequest{
		DiskId: tea.String(ecsemu.DefaultDataDiskID), SnapshotName: tea.String("tea-sdk"), ClientToken: tea.String(fmt.Sprintf("tea-%d", time.Now().UnixNano())),
		Tag: []*ecs.CreateSnapshotRequestTag{{Key: tea.String("owner"), Value: tea.String("tea")}},
	})
	if err != nil {
		t.Fatalf("CreateSnapshot without RegionId: %v", err)
	}
	sid := tea.StringValue(snap.Body.SnapshotId)

	if _, err := c.ModifySnapshotAttribute(&ecs.ModifySnapshotAttributeRequest{
		SnapshotId: tea.String(sid), SnapshotName: tea.String("tea-renamed"),
	}); err != nil {
		t.Fatalf("ModifySnapshotAttribute: %v", err)
	}

	ds, err := c.DescribeSnapshots(&ecs.DescribeSnapshotsRequest{RegionId: region, SnapshotIds: tea.String(`["` + sid + `"]`)})
	if err != nil {
		t.Fatalf("DescribeSnapshots: %v", err)
	}
	if s := ds.Body.Snapshots.Snapshot; len(s) != 1 || tea.StringValue(s[0].SnapshotName) != "tea-renamed" {
		t.Fatalf("DescribeSnapshots = %s", ds.Body)
	}

	if _, err := c.TagResources(&ecs.TagResourcesRequest{
		RegionId: region, ResourceType: tea.String("snapshot"), ResourceId: []*string{tea.String(sid)},
		Tag: []*ecs.TagResourcesRequestTag{{Key: tea.String("stage"), Value: tea.String("test")}},
	}); err != nil {
		t.Fatalf("TagResources: %v", err)
	}
	if got := listTags(t, c, env, "snapshot", sid); !slices.Equal(got, []string{"owner=tea", "stage=test"}) {
		t.Errorf("tags after TagResources = %v", got)
	}
	if _, err := c.UntagResources(&ecs.UntagResourcesRequest{
		RegionId: region, ResourceType: tea.String("snapshot"), ResourceId: []*string{tea.String(sid)},
		TagKey: []*string{tea.String("owner")},
	}); err != nil {
		t.Fatalf("UntagResources: %v", err)
	}
	if got := listTags(t, c, env, "snapshot", sid); !slices.Equal(got, []string{"stage=test"}) {
		t.Errorf("tags after UntagResources = %v", got)
	}

	grp, err := c.CreateSnapshotGroup(&ecs.CreateSnapshotGroupRequest{
		RegionId: region, InstanceId: tea.String(env.InstanceID), Name: tea.String("tea-group"),
	})
	if err != nil {
		t.Fatalf("CreateSnapshotGroup: %v", err)
	}
	gid := tea.StringValue(grp.Body.SnapshotGroupId)
	groups, err := c.DescribeSnapshotGroups(&ecs.DescribeSnapshotGroupsRequest{
		RegionId: region, SnapshotGroupId: []*string{tea.String(gid)},
	})
	if err != nil {
		t.Fatalf("DescribeSnapshotGroups: %v", err)
	}
	if g := groups.Body.SnapshotGroups.SnapshotGroup; len(g) != 1 || len(g[0].Snapshots.Snapshot) != 2 {
		t.Fatalf("DescribeSnapshotGroups = %s", groups.Body)
	}
	if _, err := c.DeleteSnapshotGroup(&ecs.DeleteSnapshotGroupRequest{RegionId: region, SnapshotGroupId: tea.String(gid)}); err != nil {
		t.Fatalf("DeleteSnapshotGroup: %v", err)
	}
	if _, err := c.DeleteSnapshot(&ecs.DeleteSnapshotRequest{SnapshotId: tea.String(sid)}); err != nil {
		t.Fatalf("DeleteSnapshot without RegionId: %v", err)
	}
	if n := len(env.Emu.State().Snapshots); n != before {
		t.Errorf("%d snapshots after deleting those created, want %d", n, before)
	}
	exerciseRestore(t, c, env, "tea")
}

// listTags returns a resource's tags as key=value, in listing order.
func listTags(t *testing.T, c *ecs.Client, env *ecsemutest.Env, rtype, id string) []string {
	t.Helper()
	resp, err := c.ListTagResources(&ecs.ListTagResourcesRequest{
		RegionId: tea.String(env.RegionID), ResourceType: tea.String(rtype), ResourceId: []*string{tea.String(id)},
	})
	if err != nil {
		t.Fatalf("ListTagResources: %v", err)
	}
	var out []string
	for _, r := range resp.Body.TagResources.TagResource {
		if tea.StringValue(r.ResourceId) != id || tea.StringValue(r.ResourceType) != rtype {
			t.Errorf("ListTagResources answered %s", r)
		}
		out = append(out, tea.StringValue(r.TagKey)+"="+tea.StringValue(r.TagValue))
	}
	return out
}

// Without --tls the emulator serves plain HTTP; the SDK's one change from
// its defaults is then Protocol "http".
func TestTeaPlainHTTP(t *testing.T) {
	env := ecsemutest.Start(t)
	cfg := &openapi.Config{
		AccessKeyId: tea.String(env.AccessKeyID), AccessKeySecret: tea.String(env.AccessKeySecret),
		Endpoint: tea.String(env.APIHost), Protocol: tea.String("http"),
	}
	resp, err := teaClient(t, cfg).DescribeInstanceAttribute(&ecs.DescribeInstanceAttributeRequest{InstanceId: tea.String(env.InstanceID)})
	if err != nil || tea.StringValue(resp.Body.InstanceId) != env.InstanceID {
		t.Fatalf("DescribeInstanceAttribute over HTTP: %v", err)
	}
	if c := env.Emu.Calls(); len(c) != 1 || c[0].Signature != signV3 {
		t.Errorf("calls = %+v, want one signed v3", c)
	}
}

// A ClientToken retry returns the first call's result whichever signature
// each attempt used (V1 sends RegionId-less CreateSnapshot parameters the
// same way V3 does), and different parameters under the token are refused.
func TestTeaClientTokenAcrossSignatures(t *testing.T) {
	env := startTLS(t)
	req := func(disk string) *ecs.CreateSnapshotRequest {
		return &ecs.CreateSnapshotRequest{DiskId: tea.String(disk), ClientToken: tea.String("retry-token")}
	}
	first, err := teaClient(t, teaConfig(t, env, signV3)).CreateSnapshot(req(ecsemu.DefaultDataDiskID))
	if err != nil {
		t.Fatalf("CreateSnapshot V3: %v", err)
	}
	again, err := teaClient(t, teaConfig(t, env, signV1)).CreateSnapshot(req(ecsemu.DefaultDataDiskID))
	if err != nil {
		t.Fatalf("CreateSnapshot V1 retry: %v", err)
	}
	if a, b := tea.StringValue(first.Body.SnapshotId), tea.StringValue(again.Body.SnapshotId); a != b {
		t.Errorf("retry created %s, first call %s", b, a)
	}
	_, err = teaClient(t, teaConfig(t, env, signV3)).CreateSnapshot(req(ecsemu.DefaultSystemDiskID))
	wantTeaError(t, err, "IdempotentParameterMismatch", 403)
	if n := len(env.Emu.State().Snapshots); n != 1 {
		t.Errorf("%d snapshots, want 1", n)
	}
}
