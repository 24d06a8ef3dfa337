package ecsemu_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

func TestSnapshotProgressOverTime(t *testing.T) {
	env, clock, c := startVirtual(t, ecsemutest.WithScenario(ecsemu.DemoScenario()))
	_ = env
	// Demo speed: 64 GiB/s with a 2 s floor; 200 GiB takes 3.125 s.
	id := createSnapshot(t, c, ecsemu.DemoEfficiencyDiskID, func(r *ecs.CreateSnapshotRequest) {
		r.SnapshotName = "pre-upgrade"
		r.Description = "before apt upgrade"
		r.Tag = &[]ecs.CreateSnapshotTag{{Key: "ecssnap:managed", Value: "true"}}
	})
	snap, raw := describeSnapshot(t, c, id)
	if snap.Status != "progressing" || snap.Progress != "0%" || snap.RemainTime != 4 || snap.Available {
		t.Errorf("at creation: %s %s remain %d available %v", snap.Status, snap.Progress, snap.RemainTime, snap.Available)
	}
	// JSON types exactly as the real API: strings for Progress and
	// SourceDiskSize, numbers for RemainTime and RetentionDays.
	for k, want := range map[string]string{"Progress": "string", "SourceDiskSize": "string", "RemainTime": "number", "RetentionDays": "number", "Available": "bool", "CreationTime": "string"} {
		if got := jsonType(raw[k]); got != want {
			t.Errorf("%s is a JSON %s, want %s", k, got, want)
		}
	}
	tag := raw["Tags"].(map[string]any)["Tag"].([]any)[0].(map[string]any)
	if tag["TagKey"] != "ecssnap:managed" || tag["TagValue"] != "true" {
		t.Errorf("snapshot tag = %v, want TagKey/TagValue", tag)
	}
	if snap.SourceDiskId != ecsemu.DemoEfficiencyDiskID || snap.SourceDiskSize != "200" || snap.SourceDiskType != "data" ||
		snap.SnapshotName != "pre-upgrade" || snap.Description != "before apt upgrade" || snap.SnapshotType != "user" {
		t.Errorf("snapshot = %+v", snap)
	}
	if ct, err := time.Parse("2006-01-02T15:04:05Z", snap.CreationTime); err != nil || !ct.Equal(clock.Now().Truncate(time.Second)) {
		t.Errorf("CreationTime %q (%v), want %v", snap.CreationTime, err, clock.Now())
	}

	clock.Advance(1562500 * time.Microsecond) // half of 3.125 s
	snap, _ = describeSnapshot(t, c, id)
	if snap.Status != "progressing" || snap.Progress != "50%" || snap.RemainTime != 2 {
		t.Errorf("halfway: %s %s remain %d", snap.Status, snap.Progress, snap.RemainTime)
	}
	clock.Advance(2 * time.Second)
	snap, _ = describeSnapshot(t, c, id)
	if snap.Status != "accomplished" || snap.Progress != "100%" || snap.RemainTime != 0 || !snap.Available {
		t.Errorf("done: %s %s remain %d available %v", snap.Status, snap.Progress, snap.RemainTime, snap.Available)
	}

	// ESSD-family snapshots are available while still progressing.
	essd := createSnapshot(t, c, ecsemu.DefaultDataDiskID, nil)
	if snap, _ := describeSnapshot(t, c, essd); snap.Status != "progressing" || !snap.Available {
		t.Errorf("ESSD snapshot: %s available %v", snap.Status, snap.Available)
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return "other"
}

func TestCreateSnapshotValidation(t *testing.T) {
	_, _, c := startVirtual(t)
	long := strings.Repeat("x", 257)
	tests := []struct {
		name string
		mod  func(*ecs.CreateSnapshotRequest)
		code string
	}{
		{"missing disk", func(r *ecs.CreateSnapshotRequest) { r.DiskId = "" }, "MissingParameter"},
		{"name too short", func(r *ecs.CreateSnapshotRequest) { r.SnapshotName = "a" }, "InvalidSnapshotName.Malformed"},
		{"name starts with digit", func(r *ecs.CreateSnapshotRequest) { r.SnapshotName = "1st" }, "InvalidSnapshotName.Malformed"},
		{"name starts with auto", func(r *ecs.CreateSnapshotRequest) { r.SnapshotName = "autobackup" }, "InvalidSnapshotName.Malformed"},
		{"name with URL", func(r *ecs.CreateSnapshotRequest) { r.SnapshotName = "http://x" }, "InvalidSnapshotName.Malformed"},
		{"name with space", func(r *ecs.CreateSnapshotRequest) { r.SnapshotName = "a b" }, "InvalidSnapshotName.Malformed"},
		{"description too long", func(r *ecs.CreateSnapshotRequest) { r.Description = long }, "InvalidDescription.Malformed"},
		{"description URL", func(r *ecs.CreateSnapshotRequest) { r.Description = "https://example.com" }, "InvalidDescription.Malformed"},
		{"retention zero", func(r *ecs.CreateSnapshotRequest) { r.RetentionDays = integer(0) }, "InvalidRetentionDays.Malformed"},
		{"retention too long", func(r *ecs.CreateSnapshotRequest) { r.RetentionDays = integer(65537) }, "InvalidRetentionDays.Malformed"},
		{"tag acs:", func(r *ecs.CreateSnapshotRequest) { r.Tag = &[]ecs.CreateSnapshotTag{{Key: "acs:x", Value: "v"}} }, "InvalidTagKey.Malformed"},
		{"tag aliyun", func(r *ecs.CreateSnapshotRequest) { r.Tag = &[]ecs.CreateSnapshotTag{{Key: "aliyunx", Value: "v"}} }, "InvalidTagKey.Malformed"},
		{"tag value too long", func(r *ecs.CreateSnapshotRequest) {
			r.Tag = &[]ecs.CreateSnapshotTag{{Key: "k", Value: long[:129]}}
		}, "InvalidTagValue.Malformed"},
		{"21 tags", func(r *ecs.CreateSnapshotRequest) {
			var tags []ecs.CreateSnapshotTag
			for i := range 21 {
				tags = append(tags, ecs.CreateSnapshotTag{Key: "k" + string(rune('a'+i)), Value: "v"})
			}
			r.Tag = &tags
		}, "InvalidTagCount"},
		{"client token too long", func(r *ecs.CreateSnapshotRequest) { r.ClientToken = long[:65] }, "InvalidClientToken.Malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := ecs.CreateCreateSnapshotRequest()
			req.DiskId = ecsemu.DefaultDataDiskID
			tt.mod(req)
			_, err := c.CreateSnapshot(req)
			wantAPIError(t, err, tt.code, http.StatusBadRequest)
		})
	}
	// The limits themselves are accepted.
	createSnapshot(t, c, ecsemu.DefaultDataDiskID, func(r *ecs.CreateSnapshotRequest) {
		r.SnapshotName = "b" + strings.Repeat("x", 127)
		r.Description = long[:256]
		r.RetentionDays = integer(65536)
		r.ClientToken = long[:64]
		var tags []ecs.CreateSnapshotTag
		for i := range 20 {
			tags = append(tags, ecs.CreateSnapshotTag{Key: "k" + string(rune('a'+i)), Value: long[:128]})
		}
		r.Tag = &tags
	})
}

func TestCreateSnapshotStateRules(t *testing.T) {
	type setup func(t *testing.T, env *ecsemutest.Env, sc *ecsemu.Scenario)
	tests := []struct {
		name   string
		scen   func(sc *ecsemu.Scenario)
		before setup
		disk   string
		code   string
		status int
	}{
		{name: "unknown disk", disk: "d-nope", code: "InvalidDiskId.NotFound", status: 404},
		{name: "stopped instance is fine", before: func(t *testing.T, env *ecsemutest.Env, _ *ecsemu.Scenario) {
			mustOK(t, env.Emu.SetInstanceStatus("Stopped"))
		}},
		{name: "pending instance", before: func(t *testing.T, env *ecsemutest.Env, _ *ecsemu.Scenario) {
			mustOK(t, env.Emu.SetInstanceStatus("Pending"))
		}, code: "IncorrectInstanceStatus", status: 403},
		{name: "stopping instance", before: func(t *testing.T, env *ecsemutest.Env, _ *ecsemu.Scenario) {
			mustOK(t, env.Emu.SetInstanceStatus("Stopping"))
		}, code: "IncorrectInstanceStatus", status: 403},
		{name: "never started", scen: func(sc *ecsemu.Scenario) { sc.Instance.NeverStarted = true }, code: "IncorrectInstanceStatus", status: 403},
		{name: "security lock", scen: func(sc *ecsemu.Scenario) { sc.Instance.LockReasons = []string{"security"} }, code: "InstanceLockedForSecurity", status: 403},
		{name: "disk attaching", before: func(t *testing.T, env *ecsemutest.Env, _ *ecsemu.Scenario) {
			mustOK(t, env.Emu.SetDiskStatus(ecsemu.DefaultDataDiskID, "Attaching"))
		}, code: "IncorrectDiskStatus", status: 403},
		{name: "detached disk that was attached", scen: func(sc *ecsemu.Scenario) {
			sc.Disks = append(sc.Disks, ecsemu.Disk{ID: "d-spare", SizeGiB: 10, Detached: true})
		}, disk: "d-spare"},
		{name: "never attached disk", scen: func(sc *ecsemu.Scenario) {
			sc.Disks = append(sc.Disks, ecsemu.Disk{ID: "d-new", SizeGiB: 10, Detached: true, NeverAttached: true})
		}, disk: "d-new", code: "IncorrectDiskStatus", status: 403},
		{name: "local disk", scen: func(sc *ecsemu.Scenario) {
			sc.Disks = append(sc.Disks, ecsemu.Disk{ID: "d-local", SizeGiB: 10, Category: "local_ssd_pro"})
		}, disk: "d-local", code: "IncorrectDiskType.NotSupport", status: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := ecsemu.DefaultScenario()
			if tt.scen != nil {
				tt.scen(sc)
			}
			env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
			if tt.before != nil {
				tt.before(t, env, sc)
			}
			disk := tt.disk
			if disk == "" {
				disk = ecsemu.DefaultDataDiskID
			}
			req := ecs.CreateCreateSnapshotRequest()
			req.DiskId = disk
			_, err := env.ECSClient(t).CreateSnapshot(req)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("CreateSnapshot: %v", err)
				}
				return
			}
			wantAPIError(t, err, tt.code, tt.status)
			if n := len(env.Emu.Snapshots()); n != 0 {
				t.Errorf("%d snapshots exist after a refused create", n)
			}
		})
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentSnapshotTasksPerDisk(t *testing.T) {
	env, clock, c := startVirtual(t, ecsemutest.WithScenario(ecsemu.DemoScenario()))
	_ = env
	// ESSD family: up to 10 snapshots in progress per disk.
	for range 10 {
		createSnapshot(t, c, ecsemu.DefaultDataDiskID, nil)
	}
	req := ecs.CreateCreateSnapshotRequest()
	req.DiskId = ecsemu.DefaultDataDiskID
	_, err := c.CreateSnapshot(req)
	wantAPIError(t, err, "IncorrectDiskStatus.CreatingSnapshot", 403)
	// Older categories: one at a time.
	createSnapshot(t, c, ecsemu.DemoEfficiencyDiskID, nil)
	req.DiskId = ecsemu.DemoEfficiencyDiskID
	_, err = c.CreateSnapshot(req)
	wantAPIError(t, err, "IncorrectDiskStatus.CreatingSnapshot", 403)
	// Once they complete, new ones are accepted.
	clock.Advance(5 * time.Second)
	createSnapshot(t, c, ecsemu.DemoEfficiencyDiskID, nil)
	createSnapshot(t, c, ecsemu.DefaultDataDiskID, nil)
}

func TestManualSnapshotQuota(t *testing.T) {
	sc := ecsemu.DefaultScenario()
	sc.Quota.ManualSnapshotsPerDisk = 3
	sc.Snapshots = []ecsemu.Snapshot{
		{ID: "s-auto1", DiskID: ecsemu.DefaultDataDiskID, Type: "auto", Age: ecsemu.Duration(time.Hour)},
		{ID: "s-user1", DiskID: ecsemu.DefaultDataDiskID, Age: ecsemu.Duration(time.Hour)},
	}
	_, _, c := startVirtual(t, ecsemutest.WithScenario(sc))
	createSnapshot(t, c, ecsemu.DefaultDataDiskID, nil)
	createSnapshot(t, c, ecsemu.DefaultDataDiskID, nil) // auto snapshots do not count: 3 manual now
	req := ecs.CreateCreateSnapshotRequest()
	req.DiskId = ecsemu.DefaultDataDiskID
	_, err := c.CreateSnapshot(req)
	wantAPIError(t, err, "QuotaExceed.Snapshot", 403)
	// The quota is per disk.
	createSnapshot(t, c, ecsemu.DefaultSystemDiskID, nil)
	// Deleting one frees a slot.
	del := ecs.CreateDeleteSnapshotRequest()
	del.SnapshotId = "s-user1"
	if _, err := c.DeleteSnapshot(del); err != nil {
		t.Fatal(err)
	}
	createSnapshot(t, c, ecsemu.DefaultDataDiskID, nil)
}

func TestRetentionDaysExpiry(t *testing.T) {
	env, clock, c := startVirtual(t)
	keep := createSnapshot(t, c, ecsemu.DefaultDataDiskID, nil)
	short := createSnapshot(t, c, ecsemu.DefaultDataDiskID, func(r *ecs.CreateSnapshotRequest) { r.RetentionDays = integer(1) })
	if snap, _ := describeSnapshot(t, c, short); snap.RetentionDays != 1 {
		t.Errorf("RetentionDays = %d", snap.RetentionDays)
	}
	clock.Advance(24*time.Hour - time.Second)
	describeSnapshot(t, c, short)
	clock.Advance(time.Second)
	req := ecs.CreateDescribeSnapshotsRequest()
	req.DiskId = ecsemu.DefaultDataDiskID
	resp, err := c.DescribeSnapshots(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Snapshots.Snapshot) != 1 || resp.Snapshots.Snapshot[0].SnapshotId != keep {
		t.Errorf("after retention: %+v, want only %s", resp.Snapshots.Snapshot, keep)
	}
	for _, s := range env.Emu.State().Snapshots {
		if s.ID == short {
			t.Error("expired snapshot still in State")
		}
	}
}

func TestDescribeSnapshotsFiltersAndPaging(t *testing.T) {
	sc := ecsemu.DefaultScenario()
	sc.Snapshots = []ecsemu.Snapshot{
		{ID: "s-auto", DiskID: ecsemu.DefaultSystemDiskID, Type: "auto", Age: ecsemu.Duration(48 * time.Hour)},
		{ID: "s-failed", DiskID: ecsemu.DefaultSystemDiskID, Status: "failed", Age: ecsemu.Duration(24 * time.Hour)},
	}
	env, _, c := startVirtual(t, ecsemutest.WithScenario(sc))
	var created []string
	for i := range 5 {
		created = append(created, createSnapshot(t, c, ecsemu.DefaultDataDiskID, func(r *ecs.CreateSnapshotRequest) {
			if i%2 == 0 {
				r.Tag = &[]ecs.CreateSnapshotTag{{Key: "even", Value: "yes"}}
			}
		}))
	}
	ids := func(resp *ecs.DescribeSnapshotsResponse) []string {
		var out []string
		for _, s := range resp.Snapshots.Snapshot {
			out = append(out, s.SnapshotId)
		}
		return out
	}
	newestFirst := slices.Clone(created)
	slices.Reverse(newestFirst)
	tests := []struct {
		name string
		mod  func(*ecs.DescribeSnapshotsRequest)
		want []string
	}{
		{"all, newest first", func(*ecs.DescribeSnapshotsRequest) {}, append(slices.Clone(newestFirst), "s-failed", "s-auto")},
		{"disk", func(r *ecs.DescribeSnapshotsRequest) { r.DiskId = ecsemu.DefaultSystemDiskID }, []string{"s-failed", "s-auto"}},
		{"instance", func(r *ecs.DescribeSnapshotsRequest) { r.InstanceId = "i-other" }, nil},
		{"failed", func(r *ecs.DescribeSnapshotsRequest) { r.Status = "failed" }, []string{"s-failed"}},
		{"accomplished", func(r *ecs.DescribeSnapshotsRequest) { r.Status = "accomplished" }, []string{"s-auto"}},
		{"auto", func(r *ecs.DescribeSnapshotsRequest) { r.SnapshotType = "auto" }, []string{"s-auto"}},
		{"tag", func(r *ecs.DescribeSnapshotsRequest) {
			r.Tag = &[]ecs.DescribeSnapshotsTag{{Key: "even", Value: "yes"}}
		}, []string{created[4], created[2], created[0]}},
		{"ids", func(r *ecs.DescribeSnapshotsRequest) { r.SnapshotIds = `["s-auto","` + created[1] + `"]` }, []string{created[1], "s-auto"}},
	}
	for _, tt := range tests {
		req := ecs.CreateDescribeSnapshotsRequest()
		req.MaxResults = integer(100)
		tt.mod(req)
		resp, err := c.DescribeSnapshots(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := ids(resp); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	var all []string
	token := ""
	for {
		req := ecs.CreateDescribeSnapshotsRequest()
		req.MaxResults = integer(3)
		req.NextToken = token
		resp, err := c.DescribeSnapshots(req)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ids(resp)...)
		if token = resp.NextToken; token == "" {
			break
		}
	}
	if len(all) != 7 {
		t.Errorf("token pages returned %d snapshots, want 7: %v", len(all), all)
	}
	req := ecs.CreateDescribeSnapshotsRequest()
	req.PageSize = integer(2)
	req.PageNumber = integer(2)
	resp, err := c.DescribeSnapshots(req)
	if err != nil || resp.TotalCount != 7 || !slices.Equal(ids(resp), newestFirst[2:4]) {
		t.Errorf("page 2: %v total %d ids %v", err, resp.TotalCount, ids(resp))
	}
	for _, bad := range []func(*ecs.DescribeSnapshotsRequest){
		func(r *ecs.DescribeSnapshotsRequest) { r.MaxResults = integer(101) },
		func(r *ecs.DescribeSnapshotsRequest) { r.Status = "done" },
		func(r *ecs.DescribeSnapshotsRequest) { r.SnapshotType = "manual" },
	} {
		req := ecs.CreateDescribeSnapshotsRequest()
		bad(req)
		_, err := c.DescribeSnapshots(req)
		wantAPIError(t, err, "InvalidParameter", 400)
	}
	req = ecs.CreateDescribeSnapshotsRequest()
	req.DryRun = requests.NewBoolean(true)
	_, err = c.DescribeSnapshots(req)
	wantAPIError(t, err, "DryRunOperation", 400)
	_ = env
}

func TestDeleteSnapshot(t *testing.T) {
	scen := func(unknown string) *ecsemu.Scenario {
		sc := ecsemu.DefaultScenario()
		sc.Behavior.DeleteUnknownSnapshot = unknown
		sc.Snapshots = []ecsemu.Snapshot{
			{ID: "s-plain", DiskID: ecsemu.DefaultDataDiskID},
			{ID: "s-disk", DiskID: ecsemu.DefaultDataDiskID, CreatedDisk: true},
			{ID: "s-image", DiskID: ecsemu.DefaultSystemDiskID, CreatedImage: true},
		}
		return sc
	}
	tests := []struct {
		name, behavior, id string
		force              bool
		code               string
		status             int
		gone               bool
	}{
		{name: "plain", id: "s-plain", gone: true},
		{name: "unknown", id: "s-nope", code: "InvalidSnapshotId.NotFound", status: 404},
		{name: "unknown ignored", behavior: "ignore", id: "s-nope"},
		{name: "created disk", id: "s-disk", code: "SnapshotCreatedDisk", status: 403},
		{name: "created disk forced", id: "s-disk", force: true, gone: true},
		{name: "created image", id: "s-image", force: true, code: "SnapshotCreatedImage", status: 403},
		{name: "missing id", id: "", code: "MissingParameter", status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			behavior := tt.behavior
			if behavior == "" {
				behavior = "error"
			}
			env := ecsemutest.Start(t, ecsemutest.WithScenario(scen(behavior)))
			req := ecs.CreateDeleteSnapshotRequest()
			req.SnapshotId = tt.id
			if tt.force {
				req.Force = requests.NewBoolean(true)
			}
			_, err := env.ECSClient(t).DeleteSnapshot(req)
			if tt.code != "" {
				wantAPIError(t, err, tt.code, tt.status)
			} else if err != nil {
				t.Fatal(err)
			}
			exists := slices.ContainsFunc(env.Emu.Snapshots(), func(s ecsemu.SnapshotView) bool { return s.ID == tt.id })
			if tt.gone == exists && tt.id != "s-nope" && tt.id != "" {
				t.Errorf("snapshot exists = %v after delete", exists)
			}
		})
	}
}

func TestModifySnapshotAttributeAndTags(t *testing.T) {
	env, _, c := startVirtual(t)
	id := createSnapshot(t, c, ecsemu.DefaultDataDiskID, nil)
	mod := ecs.CreateModifySnapshotAttributeRequest()
	mod.SnapshotId = id
	mod.SnapshotName = "renamed"
	mod.Description = "new text"
	mod.RetentionDays = integer(7)
	if _, err := c.ModifySnapshotAttribute(mod); err != nil {
		t.Fatal(err)
	}
	snap, _ := describeSnapshot(t, c, id)
	if snap.SnapshotName != "renamed" || snap.Description != "new text" || snap.RetentionDays != 7 {
		t.Errorf("after modify: %+v", snap)
	}
	mod.SnapshotName = "9lives"
	_, err := c.ModifySnapshotAttribute(mod)
	wantAPIError(t, err, "InvalidSnapshotName.Malformed", 400)
	// A fresh request: the SDK keeps parameters of a sent request.
	mod = ecs.CreateModifySnapshotAttributeRequest()
	mod.SnapshotId = "s-nope"
	_, err = c.ModifySnapshotAttribute(mod)
	wantAPIError(t, err, "InvalidSnapshotId.NotFound", 404)

	tag := func(rtype string, ids []string, key string) error {
		req := ecs.CreateTagResourcesRequest()
		req.ResourceType = rtype
		req.ResourceId = &ids
		req.Tag = &[]ecs.TagResourcesTag{{Key: key, Value: "v"}}
		_, err := c.TagResources(req)
		return err
	}
	mustOK(t, tag("snapshot", []string{id}, "ecssnap:job"))
	mustOK(t, tag("disk", []string{ecsemu.DefaultDataDiskID}, "role"))
	mustOK(t, tag("instance", []string{ecsemu.DefaultInstanceID}, "owner"))
	snap, raw := describeSnapshot(t, c, id)
	if len(snap.Tags.Tag) != 1 || snap.Tags.Tag[0].TagKey != "ecssnap:job" || snap.Tags.Tag[0].TagValue != "v" {
		t.Errorf("snapshot tags = %+v (%v)", snap.Tags, raw["Tags"])
	}
	if d := findDisk(t, c, ecsemu.DefaultDataDiskID); len(d.Tags.Tag) != 1 || d.Tags.Tag[0].TagKey != "role" {
		t.Errorf("disk tags = %+v", d.Tags)
	}
	if tags := env.Emu.State().Instance.Tags; tags["owner"] != "v" {
		t.Errorf("instance tags = %v", tags)
	}
	wantAPIError(t, tag("snapshotgroup", []string{"ssg-x"}, "k"), "InvalidResourceType.NotFound", 400)
	wantAPIError(t, tag("snapshot", []string{"s-nope"}, "k"), "InvalidResourceId.NotFound", 404)
	wantAPIError(t, tag("snapshot", []string{id}, "acs:mine"), "InvalidTagKey.Malformed", 400)
	many := make([]string, 51)
	for i := range many {
		many[i] = id
	}
	wantAPIError(t, tag("snapshot", many, "k"), "InvalidParameter", 400)
}
