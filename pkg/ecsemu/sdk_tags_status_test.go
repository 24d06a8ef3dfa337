package ecsemu_test

import (
	"fmt"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

func listTagPairs(t *testing.T, c *ecs.Client, mod func(*ecs.ListTagResourcesRequest)) ([]string, string) {
	t.Helper()
	req := ecs.CreateListTagResourcesRequest()
	mod(req)
	resp, err := c.ListTagResources(req)
	if err != nil {
		t.Fatalf("ListTagResources: %v", err)
	}
	var out []string
	for _, r := range resp.TagResources.TagResource {
		out = append(out, r.ResourceType+"/"+r.ResourceId+"/"+r.TagKey+"="+r.TagValue)
	}
	return out, resp.NextToken
}

func TestListAndUntagResources(t *testing.T) {
	sc := ecsemu.DefaultScenario()
	sc.Disks[0].Tags = map[string]string{"env": "prod", "team": "a"}
	sc.Disks[1].Tags = map[string]string{"env": "dev"}
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	c := env.ECSClient(t)
	sys, data := ecsemu.DefaultSystemDiskID, ecsemu.DefaultDataDiskID

	got, next := listTagPairs(t, c, func(r *ecs.ListTagResourcesRequest) {
		r.ResourceType = "disk"
		r.ResourceId = &[]string{sys, data}
	})
	want := fmt.Sprint([]string{"disk/" + sys + "/env=prod", "disk/" + sys + "/team=a", "disk/" + data + "/env=dev"})
	if fmt.Sprint(got) != want || next != "" {
		t.Errorf("by ID: %v (next %q), want %s", got, next, want)
	}
	got, _ = listTagPairs(t, c, func(r *ecs.ListTagResourcesRequest) {
		r.ResourceType = "disk"
		r.Tag = &[]ecs.ListTagResourcesTag{{Key: "env", Value: "prod"}}
	})
	if want := fmt.Sprint([]string{"disk/" + sys + "/env=prod"}); fmt.Sprint(got) != want {
		t.Errorf("by tag: %v, want %s", got, want)
	}
	got, _ = listTagPairs(t, c, func(r *ecs.ListTagResourcesRequest) { r.ResourceType = "image" })
	if len(got) != 0 {
		t.Errorf("images: %v, want none", got)
	}

	untag := ecs.CreateUntagResourcesRequest()
	untag.ResourceType, untag.ResourceId, untag.TagKey = "disk", &[]string{sys, data}, &[]string{"env", "absent"}
	if _, err := c.UntagResources(untag); err != nil {
		t.Fatalf("UntagResources: %v", err)
	}
	got, _ = listTagPairs(t, c, func(r *ecs.ListTagResourcesRequest) {
		r.ResourceType = "disk"
		r.ResourceId = &[]string{sys, data}
	})
	if want := fmt.Sprint([]string{"disk/" + sys + "/team=a"}); fmt.Sprint(got) != want {
		t.Errorf("after untag: %v, want %s", got, want)
	}

	// All=true removes user tags but never the acs: system tags.
	gid := createGroupSDK(t, c, env.InstanceID)
	member := env.Emu.State().Groups[0].SnapshotIDs[0]
	tagReq := ecs.CreateTagResourcesRequest()
	tagReq.ResourceType, tagReq.ResourceId = "snapshot", &[]string{member}
	tagReq.Tag = &[]ecs.TagResourcesTag{{Key: "k1", Value: "v1"}}
	if _, err := c.TagResources(tagReq); err != nil {
		t.Fatalf("TagResources: %v", err)
	}
	untag = ecs.CreateUntagResourcesRequest()
	untag.ResourceType, untag.ResourceId, untag.All = "snapshot", &[]string{member}, "true"
	if _, err := c.UntagResources(untag); err != nil {
		t.Fatalf("UntagResources All: %v", err)
	}
	got, _ = listTagPairs(t, c, func(r *ecs.ListTagResourcesRequest) {
		r.ResourceType = "snapshot"
		r.ResourceId = &[]string{member}
	})
	if want := fmt.Sprint([]string{"snapshot/" + member + "/acs:ecs:createFrom=" + env.InstanceID}); fmt.Sprint(got) != want {
		t.Errorf("after untag All on a member of %s: %v, want %s", gid, got, want)
	}

	for _, tc := range []struct {
		name   string
		mod    func(*ecs.UntagResourcesRequest)
		code   string
		status int
	}{
		{"no keys", func(r *ecs.UntagResourcesRequest) { r.ResourceType, r.ResourceId = "disk", &[]string{sys} }, "MissingParameter", 400},
		{"system key", func(r *ecs.UntagResourcesRequest) {
			r.ResourceType, r.ResourceId, r.TagKey = "disk", &[]string{sys}, &[]string{"acs:ecs:createFrom"}
		}, "InvalidTagKey.Malformed", 400},
		{"unknown disk", func(r *ecs.UntagResourcesRequest) {
			r.ResourceType, r.ResourceId, r.TagKey = "disk", &[]string{"d-nonexistent"}, &[]string{"k"}
		}, "InvalidResourceId.NotFound", 404},
		{"no resource", func(r *ecs.UntagResourcesRequest) { r.ResourceType, r.TagKey = "disk", &[]string{"k"} }, "MissingParameter", 400},
	} {
		req := ecs.CreateUntagResourcesRequest()
		tc.mod(req)
		_, err := c.UntagResources(req)
		t.Run(tc.name, func(t *testing.T) { wantAPIError(t, err, tc.code, tc.status) })
	}
	req := ecs.CreateListTagResourcesRequest()
	req.ResourceType = "disk"
	req.TagFilter = &[]ecs.ListTagResourcesTagFilter{{TagKey: "env"}}
	_, err := c.ListTagResources(req)
	wantAPIError(t, err, "InvalidParameter", 400)
}

// With tag_list_filter "all", a Tag.N filter selects resources but lists
// all of their tags.
func TestListTagResourcesFilterOption(t *testing.T) {
	sc := ecsemu.DefaultScenario()
	sc.Disks[0].Tags = map[string]string{"env": "prod", "team": "a"}
	sc.Behavior.TagListFilter = ecsemu.TagListAll
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	got, _ := listTagPairs(t, env.ECSClient(t), func(r *ecs.ListTagResourcesRequest) {
		r.ResourceType = "disk"
		r.Tag = &[]ecs.ListTagResourcesTag{{Key: "env"}}
	})
	sys := ecsemu.DefaultSystemDiskID
	if want := fmt.Sprint([]string{"disk/" + sys + "/env=prod", "disk/" + sys + "/team=a"}); fmt.Sprint(got) != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func createGroupSDK(t *testing.T, c *ecs.Client, instance string) string {
	t.Helper()
	req := ecs.CreateCreateSnapshotGroupRequest()
	req.InstanceId = instance
	resp, err := c.CreateSnapshotGroup(req)
	if err != nil {
		t.Fatalf("CreateSnapshotGroup: %v", err)
	}
	return resp.SnapshotGroupId
}

func TestDescribeInstanceAttributeAndStatus(t *testing.T) {
	sc := ecsemu.DefaultScenario()
	sc.Instance.LockReasons = []string{"security"}
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	c := env.ECSClient(t)
	if err := env.Emu.SetInstanceStatus("Stopped"); err != nil {
		t.Fatal(err)
	}

	areq := ecs.CreateDescribeInstanceAttributeRequest()
	areq.InstanceId = env.InstanceID
	attr, err := c.DescribeInstanceAttribute(areq)
	if err != nil {
		t.Fatalf("DescribeInstanceAttribute: %v", err)
	}
	if attr.Status != "Stopped" || attr.InstanceId != env.InstanceID || attr.ZoneId == "" || attr.IoOptimized != "optimized" ||
		len(attr.OperationLocks.LockReason) != 1 || attr.OperationLocks.LockReason[0].LockReason != "security" {
		t.Errorf("DescribeInstanceAttribute = %+v", attr)
	}
	areq = ecs.CreateDescribeInstanceAttributeRequest()
	areq.InstanceId = "i-nonexistent"
	_, err = c.DescribeInstanceAttribute(areq)
	wantAPIError(t, err, "InvalidInstanceId.NotFound", 404)

	sreq := ecs.CreateDescribeInstanceStatusRequest()
	sreq.InstanceId = &[]string{env.InstanceID, "i-nonexistent"}
	st, err := c.DescribeInstanceStatus(sreq)
	if err != nil {
		t.Fatalf("DescribeInstanceStatus: %v", err)
	}
	if st.TotalCount != 1 || st.PageSize != 10 || len(st.InstanceStatuses.InstanceStatus) != 1 ||
		st.InstanceStatuses.InstanceStatus[0].Status != "Stopped" {
		t.Errorf("DescribeInstanceStatus = %+v", st)
	}
}

// The per-action parameter rules: RegionId only where the API has it
// (ignored elsewhere, even naming another region), documented required
// parameters refused when absent.
func TestActionParameterRules(t *testing.T) {
	env := ecsemutest.Start(t)
	snap := createSnapshot(t, env.ECSClient(t), ecsemu.DefaultDataDiskID, nil)
	tests := []struct {
		action string
		params map[string]string
		drop   bool // send no RegionId
		code   string
	}{
		{"CreateSnapshot", map[string]string{"DiskId": ecsemu.DefaultDataDiskID}, true, ""},
		{"CreateSnapshot", map[string]string{"DiskId": ecsemu.DefaultDataDiskID, "RegionId": "cn-beijing"}, false, ""},
		{"CreateSnapshot", nil, true, "MissingParameter"},
		{"ModifySnapshotAttribute", map[string]string{"SnapshotId": snap, "SnapshotName": "renamed"}, true, ""},
		{"DescribeInstanceAttribute", map[string]string{"InstanceId": env.InstanceID}, true, ""},
		{"DescribeInstanceAttribute", nil, true, "MissingParameter"},
		{"DeleteSnapshot", map[string]string{"SnapshotId": snap}, true, ""},
		{"DescribeDisks", nil, true, "MissingParameter"},
		{"DescribeInstanceStatus", nil, true, "MissingParameter"},
		{"DescribeInstanceStatus", map[string]string{"RegionId": "cn-beijing"}, false, "InvalidRegionId.NotFound"},
		{"DeleteSnapshotGroup", nil, false, "MissingParameter"},
		{"TagResources", map[string]string{"ResourceType": "disk", "ResourceId.1": ecsemu.DefaultDataDiskID}, false, "MissingParameter"},
		{"TagResources", map[string]string{"ResourceType": "disk", "Tag.1.Key": "k"}, false, "MissingParameter"},
		{"ListTagResources", nil, false, "MissingParameter"},
		{"UntagResources", map[string]string{"ResourceType": "disk", "TagKey.1": "k"}, false, "MissingParameter"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s %v", tc.action, tc.params), func(t *testing.T) {
			p := signedParams(env, tc.action, tc.params)
			if tc.drop {
				delete(p, "RegionId")
			}
			status, body := rawCall(t, env, "POST", encode(sign(p, "POST", env.AccessKeySecret)), "")
			if tc.code == "" && status != 200 || tc.code != "" && body["Code"] != tc.code {
				t.Fatalf("got %d %v, want %q", status, body, tc.code)
			}
		})
	}
}
