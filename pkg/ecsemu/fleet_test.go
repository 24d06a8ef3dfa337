package ecsemu_test

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// The second instance of twoInstances and its disks.
const (
	otherInstance = "i-bp1ecssnapemu0000002"
	otherSystem   = "d-bp1ecssnapsys0000002"
	otherData     = "d-bp1ecssnapdata000002"
)

// twoInstances is the default scenario plus a second instance, in another
// zone, with a system and a data disk of its own.
func twoInstances() *ecsemu.Scenario {
	sc := ecsemu.DefaultScenario()
	sc.Instances = []ecsemu.Instance{{ID: otherInstance, ZoneID: "cn-hangzhou-i", Hostname: "web-2", Type: "ecs.g7.xlarge"}}
	sc.Disks = append(sc.Disks,
		ecsemu.Disk{ID: otherSystem, InstanceID: otherInstance, Type: "system", SizeGiB: 40},
		ecsemu.Disk{ID: otherData, InstanceID: otherInstance, SizeGiB: 200},
	)
	return sc
}

func TestFleetScenarioParse(t *testing.T) {
	sc, err := ecsemu.ParseScenario([]byte(`
region: cn-hangzhou
access_keys: [{id: ak, secret: sk}]
instance: {id: i-a, zone_id: cn-hangzhou-h}
instances:
  - {id: i-b, zone_id: cn-hangzhou-i, hostname: b}
disks:
  - {id: d-a, size_gib: 40, type: system}
  - {id: d-b, size_gib: 40, type: system, instance_id: i-b}
  - {id: d-b2, size_gib: 10, instance_id: i-b}
`))
	if err != nil {
		t.Fatal(err)
	}
	b := sc.Instances[0]
	if b.Status != "Running" || b.Name != "b" {
		t.Errorf("instance defaults: status %q name %q", b.Status, b.Name)
	}
	for _, d := range sc.Disks {
		want := "cn-hangzhou-h"
		if d.InstanceID == "i-b" {
			want = "cn-hangzhou-i"
		}
		if d.ZoneID != want {
			t.Errorf("%s zone = %s, want its instance's %s", d.ID, d.ZoneID, want)
		}
	}
	clone := sc.Clone()
	clone.Instances[0].LockReasons = append(clone.Instances[0].LockReasons, "security")
	if len(sc.Instances[0].LockReasons) != 0 {
		t.Error("Clone shares the instances' lock reasons")
	}
}

func TestFleetScenarioInvalid(t *testing.T) {
	base := "region: r\naccess_keys: [{id: a, secret: b}]\ninstance: {id: i-a, zone_id: z}\n"
	tests := []struct{ name, doc, want string }{
		{"repeated instance", base + "instances: [{id: i-a, zone_id: z}]\ndisks: []\n", `instances[0].id "i-a" is repeated`},
		{"bad instance id", base + "instances: [{id: x, zone_id: z}]\ndisks: []\n", `instances[0].id "x" must start with "i-"`},
		{"instance without zone", base + "instances: [{id: i-b}]\ndisks: []\n", "instances[0].zone_id is required"},
		{"disk of unknown instance", base + "disks: [{id: d-1, size_gib: 1, instance_id: i-zz}]\n", `disks[0].instance_id "i-zz" is not a scenario instance`},
		{"two system disks on one instance", base + "instances: [{id: i-b, zone_id: z}]\ndisks: [{id: d-1, size_gib: 1, type: system, instance_id: i-b}, {id: d-2, size_gib: 1, type: system, instance_id: i-b}]\n", "more than one system disk on instance i-b"},
		{"system disk named by the primary's ID", base + "disks: [{id: d-1, size_gib: 1, type: system}, {id: d-2, size_gib: 1, type: system, instance_id: i-a}]\n", "more than one system disk on instance i-a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ecsemu.ParseScenario([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	// One system disk on each of two instances is fine.
	if _, err := ecsemu.ParseScenario([]byte(base + "instances: [{id: i-b, zone_id: z}]\ndisks: [{id: d-1, size_gib: 1, type: system}, {id: d-2, size_gib: 1, type: system, instance_id: i-b}]\n")); err != nil {
		t.Errorf("a system disk per instance: %v", err)
	}
}

// The API serves every instance of the account: listing, per-instance disk
// filters, groups of another instance's disks, and each instance's state
// rules for its own disks.
func TestFleetAPI(t *testing.T) {
	sc := twoInstances()
	sc.Instance.LockReasons = []string{"security"}
	env, _, c := startVirtual(t, ecsemutest.WithScenario(sc))

	req := ecs.CreateDescribeInstancesRequest()
	req.MaxResults = integer(1)
	resp, err := c.DescribeInstances(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Instances.Instance) != 1 || resp.Instances.Instance[0].InstanceId != ecsemu.DefaultInstanceID || resp.NextToken == "" {
		t.Fatalf("first page = %+v, next %q", resp.Instances.Instance, resp.NextToken)
	}
	req = ecs.CreateDescribeInstancesRequest()
	req.MaxResults = integer(1)
	req.NextToken = resp.NextToken
	if resp, err = c.DescribeInstances(req); err != nil {
		t.Fatal(err)
	}
	if len(resp.Instances.Instance) != 1 || resp.NextToken != "" {
		t.Fatalf("second page = %+v, next %q", resp.Instances.Instance, resp.NextToken)
	}
	if in := resp.Instances.Instance[0]; in.InstanceId != otherInstance || in.ZoneId != "cn-hangzhou-i" || in.HostName != "web-2" {
		t.Errorf("second instance = %+v", in)
	}

	dreq := ecs.CreateDescribeDisksRequest()
	dreq.InstanceId = otherInstance
	disks, err := c.DescribeDisks(dreq)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range disks.Disks.Disk {
		ids = append(ids, d.DiskId)
		if d.InstanceId != otherInstance || d.ZoneId != "cn-hangzhou-i" || d.Device != map[string]string{otherSystem: "/dev/xvda", otherData: "/dev/xvdb"}[d.DiskId] {
			t.Errorf("disk %s: instance %s zone %s device %s", d.DiskId, d.InstanceId, d.ZoneId, d.Device)
		}
	}
	if !slices.Equal(ids, []string{otherSystem, otherData}) {
		t.Errorf("disks of %s = %v", otherInstance, ids)
	}

	// The primary instance is locked for security; the other is not.
	creq := ecs.CreateCreateSnapshotRequest()
	creq.DiskId = ecsemu.DefaultDataDiskID
	_, err = c.CreateSnapshot(creq)
	wantAPIError(t, err, "InstanceLockedForSecurity", 403)
	createSnapshot(t, c, otherData, nil)

	greq := ecs.CreateCreateSnapshotGroupRequest()
	greq.InstanceId = otherInstance
	group, err := c.CreateSnapshotGroup(greq)
	if err != nil {
		t.Fatal(err)
	}
	state := env.Emu.State()
	members := map[string]string{}
	for _, s := range state.Snapshots {
		if s.GroupID == group.SnapshotGroupId {
			members[s.DiskID] = s.Tags["acs:ecs:createFrom"]
		}
	}
	if len(members) != 2 || members[otherSystem] != otherInstance || members[otherData] != otherInstance {
		t.Errorf("group members (disk -> createFrom) = %v", members)
	}
	if len(state.Instances) != 1 || state.Instances[0].ID != otherInstance {
		t.Errorf("state instances = %+v", state.Instances)
	}

	// A disk of one instance is not a member candidate for another.
	greq = ecs.CreateCreateSnapshotGroupRequest()
	greq.InstanceId = otherInstance
	greq.DiskId = &[]string{ecsemu.DefaultDataDiskID}
	_, err = c.CreateSnapshotGroup(greq)
	wantAPIError(t, err, "InvalidDiskId.NotBelongToInstance", 403)

	treq := ecs.CreateTagResourcesRequest()
	treq.ResourceType = "instance"
	treq.ResourceId = &[]string{otherInstance}
	treq.Tag = &[]ecs.TagResourcesTag{{Key: "role", Value: "web"}}
	if _, err := c.TagResources(treq); err != nil {
		t.Fatal(err)
	}
	if tags := env.Emu.State().Instances[0].Tags; tags["role"] != "web" {
		t.Errorf("tags of %s = %v", otherInstance, tags)
	}
	if tags := env.Emu.State().Instance.Tags; len(tags) != 0 {
		t.Errorf("tagging %s tagged the primary too: %v", otherInstance, tags)
	}
}

// Each instance's metadata service answers for that instance alone, and a
// token one issued is refused by another.
func TestInstanceMetadataHandler(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(twoInstances()))
	h, err := env.Emu.InstanceMetadataHandler(otherInstance)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := env.HTTPClient()
	for path, want := range map[string]string{
		"/latest/meta-data/instance-id":                   otherInstance,
		"/latest/meta-data/zone-id":                       "cn-hangzhou-i",
		"/latest/meta-data/hostname":                      "web-2",
		"/latest/meta-data/instance/instance-type":        "ecs.g7.xlarge",
		"/latest/meta-data/region-id":                     ecsemu.DefaultRegion,
		"/latest/meta-data/disks/":                        strings.TrimPrefix(otherData, "d-") + "/\n" + strings.TrimPrefix(otherSystem, "d-") + "/",
		"/latest/meta-data/disks/bp1ecssnapdata000002/id": otherData,
		"/latest/meta-data/ram/security-credentials/":     ecsemu.DefaultRoleName,
		"/latest/meta-data/disks/bp1ecssnapdata000001/id": "",
	} {
		status, body := get(t, c, "GET", srv.URL+path, nil)
		if want == "" {
			if status != 404 {
				t.Errorf("GET %s = %d %q, want 404", path, status, body)
			}
			continue
		}
		if status != 200 || body != want {
			t.Errorf("GET %s = %d %q, want %q", path, status, body, want)
		}
	}
	// The primary's service is unchanged.
	if _, body := get(t, c, "GET", env.IMDSURL+"/latest/meta-data/instance-id", nil); body != ecsemu.DefaultInstanceID {
		t.Errorf("primary instance-id = %q", body)
	}
	ttl := map[string]string{ecsemu.MetadataTokenTTLHeader: "60"}
	status, tok := get(t, c, "PUT", env.IMDSURL+"/latest/api/token", ttl)
	if status != 200 {
		t.Fatalf("PUT token = %d", status)
	}
	if status, _ := get(t, c, "GET", srv.URL+"/latest/meta-data/instance-id", map[string]string{ecsemu.MetadataTokenHeader: tok}); status != 401 {
		t.Errorf("another instance's token: %d, want 401", status)
	}
	_, own := get(t, c, "PUT", srv.URL+"/latest/api/token", ttl)
	if status, body := get(t, c, "GET", srv.URL+"/latest/meta-data/instance-id", map[string]string{ecsemu.MetadataTokenHeader: own}); status != 200 || body != otherInstance {
		t.Errorf("own token: %d %q", status, body)
	}
	if _, err := env.Emu.InstanceMetadataHandler("i-nope"); err == nil {
		t.Error("a handler for an instance not in the scenario")
	}
}

// The request rate limit belongs to the account: a second caller, with its
// own key and on another instance, is throttled by what the first used, and
// with the real throttling codes.
func TestRPSLimitIsAccountWide(t *testing.T) {
	sc := twoInstances()
	sc.AccessKeys = append(sc.AccessKeys, ecsemu.AccessKey{ID: "LTAI5tEcssnapEmuSecond01", Secret: "ecssnapEmuSecondSecret0000000000"})
	env, _, first := startVirtual(t, ecsemutest.WithScenario(sc), ecsemutest.WithFaults(ecsemu.Faults{RPS: 0.001}))
	second := env.ECSClientWith(t, credentials.NewAccessKeyCredential(sc.AccessKeys[1].ID, sc.AccessKeys[1].Secret))

	dreq := ecs.CreateDescribeDisksRequest()
	dreq.InstanceId = ecsemu.DefaultInstanceID
	if _, err := first.DescribeDisks(dreq); err != nil {
		t.Fatal(err)
	}
	dreq = ecs.CreateDescribeDisksRequest()
	dreq.InstanceId = otherInstance
	_, err := second.DescribeDisks(dreq)
	wantAPIError(t, err, "Throttling.User", 400)
	creq := ecs.CreateCreateSnapshotRequest()
	creq.DiskId = otherData
	_, err = second.CreateSnapshot(creq)
	wantAPIError(t, err, "Throttling", 403)
	throttled := 0
	for _, c := range env.Emu.Calls() {
		if c.Fault == ecsemu.FaultThrottle {
			throttled++
		}
	}
	if throttled != 2 {
		t.Errorf("%d calls recorded as throttled, want 2", throttled)
	}
}
