package ecsemu_test

import (
	"slices"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

func createGroup(c *ecs.Client, mod func(*ecs.CreateSnapshotGroupRequest)) (string, error) {
	req := ecs.CreateCreateSnapshotGroupRequest()
	req.InstanceId = ecsemu.DefaultInstanceID
	if mod != nil {
		mod(req)
	}
	resp, err := c.CreateSnapshotGroup(req)
	if err != nil {
		return "", err
	}
	return resp.SnapshotGroupId, nil
}

func describeGroup(t *testing.T, c *ecs.Client, id string) (ecs.SnapshotGroup, map[string]any) {
	t.Helper()
	req := ecs.CreateDescribeSnapshotGroupsRequest()
	req.SnapshotGroupId = &[]string{id}
	resp, err := c.DescribeSnapshotGroups(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.SnapshotGroups.SnapshotGroup) != 1 {
		t.Fatalf("DescribeSnapshotGroups(%s): %d groups", id, len(resp.SnapshotGroups.SnapshotGroup))
	}
	raw := rawJSON(t, resp.GetHttpContentString())
	g := raw["SnapshotGroups"].(map[string]any)["SnapshotGroup"].([]any)[0].(map[string]any)
	return resp.SnapshotGroups.SnapshotGroup[0], g
}

func TestSnapshotGroupLifecycle(t *testing.T) {
	env, clock, c := startVirtual(t)
	id, err := createGroup(c, func(r *ecs.CreateSnapshotGroupRequest) {
		r.Name = "pre-upgrade"
		r.Description = "two disks"
		r.Tag = &[]ecs.CreateSnapshotGroupTag{{Key: "ecssnap:managed", Value: "true"}}
	})
	if err != nil {
		t.Fatal(err)
	}
	g, raw := describeGroup(t, c, id)
	if g.Status != "progressing" || g.InstanceId != ecsemu.DefaultInstanceID || g.Name != "pre-upgrade" || len(g.Snapshots.Snapshot) != 2 {
		t.Errorf("group = %+v", g)
	}
	// Groups use Key/Value tags, not TagKey/TagValue.
	tag := raw["Tags"].(map[string]any)["Tag"].([]any)[0].(map[string]any)
	if tag["Key"] != "ecssnap:managed" || tag["Value"] != "true" || tag["TagKey"] != nil {
		t.Errorf("group tag = %v", tag)
	}
	member := raw["Snapshots"].(map[string]any)["Snapshot"].([]any)[0].(map[string]any)
	if jsonType(member["Progress"]) != "string" || jsonType(member["Available"]) != "bool" {
		t.Errorf("member = %v", member)
	}
	// Members carry acs:ecs:createFrom and, by default, not the group's tags.
	req := ecs.CreateDescribeSnapshotsRequest()
	req.Tag = &[]ecs.DescribeSnapshotsTag{{Key: "acs:ecs:createFrom", Value: ecsemu.DefaultInstanceID}}
	resp, err := c.DescribeSnapshots(req)
	if err != nil || len(resp.Snapshots.Snapshot) != 2 {
		t.Fatalf("members by tag: %v %d", err, len(resp.Snapshots.Snapshot))
	}
	for _, s := range resp.Snapshots.Snapshot {
		if len(s.Tags.Tag) != 1 {
			t.Errorf("member %s tags = %+v", s.SnapshotId, s.Tags.Tag)
		}
	}
	// The 100 GiB disk takes 400 s at the default 256 MiB/s.
	clock.Advance(200 * time.Second)
	if g, _ := describeGroup(t, c, id); g.Status != "progressing" {
		t.Errorf("after 200 s: %s", g.Status)
	}
	clock.Advance(200 * time.Second)
	g, _ = describeGroup(t, c, id)
	if g.Status != "accomplished" || g.Snapshots.Snapshot[0].Progress != "100%" || !g.Snapshots.Snapshot[1].Available {
		t.Errorf("after 400 s: %+v", g)
	}
	st := env.Emu.State()
	if len(st.Groups) != 1 || len(st.Groups[0].SnapshotIDs) != 2 || st.Groups[0].Status != "accomplished" {
		t.Errorf("state groups = %+v", st.Groups)
	}

	del := ecs.CreateDeleteSnapshotGroupRequest()
	del.SnapshotGroupId = id
	dresp, err := c.DeleteSnapshotGroup(del)
	if err != nil {
		t.Fatal(err)
	}
	if ops := dresp.OperationProgressSet.OperationProgress; len(ops) != 2 || ops[0].OperationStatus != "Success" {
		t.Errorf("OperationProgressSet = %+v", dresp.OperationProgressSet)
	}
	if n := len(env.Emu.Snapshots()); n != 0 {
		t.Errorf("%d snapshots left after deleting the group", n)
	}
	_, err = c.DeleteSnapshotGroup(del)
	wantAPIError(t, err, "InvalidSnapshotGroup.NotFound", 404)
}

func TestSnapshotGroupStatusFromMembers(t *testing.T) {
	env, _, c := startVirtual(t)
	id, err := createGroup(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := describeGroup(t, c, id)
	mustOK(t, env.Emu.FailSnapshot(g.Snapshots.Snapshot[0].SnapshotId))
	if g, _ := describeGroup(t, c, id); g.Status != "failed" {
		t.Errorf("with a failed member: %s", g.Status)
	}
}

func TestSnapshotGroupMemberTagsInherit(t *testing.T) {
	sc := ecsemu.DefaultScenario()
	sc.Behavior.GroupMemberTags = ecsemu.MemberTagsInherit
	_, _, c := startVirtual(t, ecsemutest.WithScenario(sc))
	if _, err := createGroup(c, func(r *ecs.CreateSnapshotGroupRequest) {
		r.Tag = &[]ecs.CreateSnapshotGroupTag{{Key: "ecssnap:managed", Value: "true"}}
	}); err != nil {
		t.Fatal(err)
	}
	req := ecs.CreateDescribeSnapshotsRequest()
	req.Tag = &[]ecs.DescribeSnapshotsTag{{Key: "ecssnap:managed", Value: "true"}, {Key: "acs:ecs:createFrom"}}
	resp, err := c.DescribeSnapshots(req)
	if err != nil || len(resp.Snapshots.Snapshot) != 2 {
		t.Errorf("inherited member tags: %v, %d members", err, len(resp.Snapshots.Snapshot))
	}
}

func TestSnapshotGroupEligibility(t *testing.T) {
	extra := func(disks ...ecsemu.Disk) func(*ecsemu.Scenario) {
		return func(sc *ecsemu.Scenario) { sc.Disks = append(sc.Disks, disks...) }
	}
	tests := []struct {
		name   string
		scen   func(*ecsemu.Scenario)
		sc     *ecsemu.Scenario
		before func(*testing.T, *ecsemutest.Env, *ecs.Client)
		mod    func(*ecs.CreateSnapshotGroupRequest)
		code   string
		status int
		disks  int
	}{
		{name: "whole instance", disks: 2},
		{name: "subset", mod: func(r *ecs.CreateSnapshotGroupRequest) { r.DiskId = &[]string{ecsemu.DefaultDataDiskID} }, disks: 1},
		{name: "disks without instance", mod: func(r *ecs.CreateSnapshotGroupRequest) {
			r.InstanceId = ""
			r.DiskId = &[]string{ecsemu.DefaultDataDiskID, ecsemu.DefaultSystemDiskID}
		}, disks: 2},
		{name: "include and exclude", mod: func(r *ecs.CreateSnapshotGroupRequest) {
			r.DiskId = &[]string{ecsemu.DefaultDataDiskID}
			r.ExcludeDiskId = &[]string{ecsemu.DefaultSystemDiskID}
		}, code: "InvalidParam.ExcludeDiskIdsAndDiskIds.Conflict", status: 400},
		{name: "neither instance nor disks", mod: func(r *ecs.CreateSnapshotGroupRequest) { r.InstanceId = "" }, code: "MissingParameter", status: 400},
		{name: "unknown instance", mod: func(r *ecs.CreateSnapshotGroupRequest) { r.InstanceId = "i-nope" }, code: "InvalidInstanceId.NotFound", status: 404},
		{name: "unknown disk", mod: func(r *ecs.CreateSnapshotGroupRequest) { r.DiskId = &[]string{"d-nope"} }, code: "InvalidDiskId.NotFound", status: 404},
		{name: "bad name", mod: func(r *ecs.CreateSnapshotGroupRequest) { r.Name = "-x" }, code: "InvalidName.Malformed", status: 400},
		{name: "multi-attach member", scen: extra(ecsemu.Disk{ID: "d-shared", SizeGiB: 10, MultiAttach: true}),
			code: "InvalidOperation.MultiAttachDisk", status: 403},
		{name: "multi-attach excluded", scen: extra(ecsemu.Disk{ID: "d-shared", SizeGiB: 10, MultiAttach: true}),
			mod: func(r *ecs.CreateSnapshotGroupRequest) { r.ExcludeDiskId = &[]string{"d-shared"} }, disks: 2},
		{name: "non-ESSD member", sc: ecsemu.DemoScenario(), code: "InvalidDiskCategory.NotSupported", status: 403},
		{name: "ESSD AutoPL and Entry mix", scen: extra(ecsemu.Disk{ID: "d-auto", SizeGiB: 10, Category: "cloud_auto"},
			ecsemu.Disk{ID: "d-entry", SizeGiB: 10, Category: "cloud_essd_entry"}), disks: 4},
		{name: "regional ESSD with zonal", scen: extra(ecsemu.Disk{ID: "d-regional", SizeGiB: 10, Category: "cloud_regional_disk_auto"}),
			code: "InvalidDiskCategory.NotSupported", status: 403},
		{name: "other zone", scen: extra(ecsemu.Disk{ID: "d-far", SizeGiB: 10, ZoneID: "cn-hangzhou-k"}),
			code: "InvalidDiskIds.NotInSameZone", status: 403},
		{name: "17 disks", sc: manyDisks(17, 10), code: "NumberExceed.TooManyDisks", status: 403},
		{name: "16 disks", sc: manyDisks(16, 10), disks: 16},
		{name: "17 disks in a region allowing 128", sc: func() *ecsemu.Scenario {
			sc := manyDisks(17, 10)
			sc.GroupLimits.Regions = map[string]ecsemu.GroupLimit{ecsemu.DefaultRegion: {MaxDisks: 128, MaxTiB: 256}}
			return sc
		}(), disks: 17},
		{name: "over 32 TiB", sc: manyDisks(2, 16*1024+1), code: "CapacityExceed.TooManyDisks", status: 403},
		{name: "exactly 32 TiB", sc: manyDisks(2, 16*1024), disks: 2},
		{name: "instance pending", before: func(t *testing.T, env *ecsemutest.Env, _ *ecs.Client) {
			mustOK(t, env.Emu.SetInstanceStatus("Pending"))
		}, code: "IncorrectInstanceStatus", status: 403},
		{name: "member busy", before: func(t *testing.T, _ *ecsemutest.Env, c *ecs.Client) {
			for range 10 {
				createSnapshot(t, c, ecsemu.DefaultDataDiskID, nil)
			}
		}, code: "IncorrectDiskStatus.CreatingSnapshot", status: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := tt.sc
			if sc == nil {
				sc = ecsemu.DefaultScenario()
			}
			if tt.scen != nil {
				tt.scen(sc)
			}
			env, _, c := startVirtual(t, ecsemutest.WithScenario(sc))
			if tt.before != nil {
				tt.before(t, env, c)
			}
			before := len(env.Emu.Snapshots())
			id, err := createGroup(c, tt.mod)
			if tt.code != "" {
				wantAPIError(t, err, tt.code, tt.status)
				if n := len(env.Emu.Snapshots()); n != before {
					t.Errorf("refused group left %d new snapshots", n-before)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g, _ := describeGroup(t, c, id); len(g.Snapshots.Snapshot) != tt.disks {
				t.Errorf("group has %d members, want %d", len(g.Snapshots.Snapshot), tt.disks)
			}
		})
	}
}

func TestDescribeSnapshotGroupsFiltersAndPaging(t *testing.T) {
	env, clock, c := startVirtual(t)
	var ids []string
	for i := range 5 {
		id, err := createGroup(c, func(r *ecs.CreateSnapshotGroupRequest) {
			if i == 0 {
				r.Name = "first"
				r.Tag = &[]ecs.CreateSnapshotGroupTag{{Key: "k", Value: "v"}}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		clock.Advance(10 * time.Minute) // each completes before the next starts
	}
	_ = env
	list := func(mod func(*ecs.DescribeSnapshotGroupsRequest)) ([]string, string) {
		t.Helper()
		req := ecs.CreateDescribeSnapshotGroupsRequest()
		mod(req)
		resp, err := c.DescribeSnapshotGroups(req)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, g := range resp.SnapshotGroups.SnapshotGroup {
			out = append(out, g.SnapshotGroupId)
		}
		return out, resp.NextToken
	}
	newest := slices.Clone(ids)
	slices.Reverse(newest)
	if got, tok := list(func(*ecs.DescribeSnapshotGroupsRequest) {}); !slices.Equal(got, newest) || tok != "" {
		t.Errorf("all: %v %q", got, tok)
	}
	if got, _ := list(func(r *ecs.DescribeSnapshotGroupsRequest) { r.Name = "first" }); !slices.Equal(got, ids[:1]) {
		t.Errorf("by name: %v", got)
	}
	if got, _ := list(func(r *ecs.DescribeSnapshotGroupsRequest) {
		r.Tag = &[]ecs.DescribeSnapshotGroupsTag{{Key: "k", Value: "v"}}
	}); !slices.Equal(got, ids[:1]) {
		t.Errorf("by tag: %v", got)
	}
	if got, _ := list(func(r *ecs.DescribeSnapshotGroupsRequest) { r.Status = &[]string{"progressing"} }); len(got) != 0 {
		t.Errorf("progressing: %v", got)
	}
	if got, _ := list(func(r *ecs.DescribeSnapshotGroupsRequest) { r.InstanceId = "i-other" }); len(got) != 0 {
		t.Errorf("other instance: %v", got)
	}
	var paged []string
	tok := ""
	for {
		page, next := list(func(r *ecs.DescribeSnapshotGroupsRequest) { r.MaxResults = integer(2); r.NextToken = tok })
		paged = append(paged, page...)
		if tok = next; tok == "" {
			break
		}
	}
	if !slices.Equal(paged, newest) {
		t.Errorf("paged: %v", paged)
	}
	req := ecs.CreateDescribeSnapshotGroupsRequest()
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = "ssg-x"
	}
	req.SnapshotGroupId = &eleven
	_, err := c.DescribeSnapshotGroups(req)
	wantAPIError(t, err, "InvalidParameter", 400)
	req = ecs.CreateDescribeSnapshotGroupsRequest()
	req.Status = &[]string{"done"}
	_, err = c.DescribeSnapshotGroups(req)
	wantAPIError(t, err, "InvalidParameter", 400)
}
