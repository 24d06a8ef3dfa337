package ecsemu_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

func TestDescribeInstances(t *testing.T) {
	sc := ecsemu.DefaultScenario()
	sc.Instance.LockReasons = []string{"financial"}
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	c := env.ECSClient(t)

	req := ecs.CreateDescribeInstancesRequest()
	req.InstanceIds = `["` + ecsemu.DefaultInstanceID + `"]`
	resp, err := c.DescribeInstances(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.TotalCount != 1 || len(resp.Instances.Instance) != 1 {
		t.Fatalf("got %d instances", len(resp.Instances.Instance))
	}
	in := resp.Instances.Instance[0]
	if in.InstanceId != ecsemu.DefaultInstanceID || in.Status != "Running" || in.ZoneId != ecsemu.DefaultZone ||
		in.RegionId != ecsemu.DefaultRegion || in.InstanceType != "ecs.g7.large" || in.HostName != "ecssnap-emu" {
		t.Errorf("instance = %+v", in)
	}
	if len(in.OperationLocks.LockReason) != 1 || in.OperationLocks.LockReason[0].LockReason != "financial" {
		t.Errorf("OperationLocks = %+v", in.OperationLocks)
	}

	filters := []struct {
		name string
		mod  func(*ecs.DescribeInstancesRequest)
		want int
	}{
		{"other id", func(r *ecs.DescribeInstancesRequest) { r.InstanceIds = `["i-other"]` }, 0},
		{"status match", func(r *ecs.DescribeInstancesRequest) { r.Status = "Running" }, 1},
		{"status mismatch", func(r *ecs.DescribeInstancesRequest) { r.Status = "Stopped" }, 0},
		{"zone mismatch", func(r *ecs.DescribeInstancesRequest) { r.ZoneId = "cn-hangzhou-x" }, 0},
	}
	for _, f := range filters {
		req := ecs.CreateDescribeInstancesRequest()
		f.mod(req)
		resp, err := c.DescribeInstances(req)
		if err != nil || len(resp.Instances.Instance) != f.want {
			t.Errorf("%s: %v, %v", f.name, err, resp)
		}
	}
	req = ecs.CreateDescribeInstancesRequest()
	req.InstanceIds = `i-1`
	_, err = c.DescribeInstances(req)
	wantAPIError(t, err, "InvalidInstanceIds.Malformed", http.StatusBadRequest)

	req = ecs.CreateDescribeInstancesRequest()
	req.DryRun = requests.NewBoolean(true)
	_, err = c.DescribeInstances(req)
	wantAPIError(t, err, "DryRunOperation", http.StatusBadRequest)
}

func TestDescribeDisksFieldsAndFilters(t *testing.T) {
	sc := ecsemu.DemoScenario()
	sc.Disks = append(sc.Disks,
		ecsemu.Disk{ID: "d-shared", SizeGiB: 20, MultiAttach: true, Tags: map[string]string{"team": "db"}},
		ecsemu.Disk{ID: "d-spare", SizeGiB: 30, Detached: true, Category: "cloud_auto"},
	)
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	c := env.ECSClient(t)

	req := ecs.CreateDescribeDisksRequest()
	req.DiskIds = `["` + ecsemu.DefaultSystemDiskID + `"]`
	resp, err := c.DescribeDisks(req)
	if err != nil {
		t.Fatal(err)
	}
	d := resp.Disks.Disk[0]
	if d.DiskId != ecsemu.DefaultSystemDiskID || d.Type != "system" || d.Category != "cloud_essd" || d.Size != 40 ||
		d.Status != "In_use" || d.SerialNumber != "bp1ecssnapsys0000001" || d.InstanceId != ecsemu.DefaultInstanceID ||
		d.MultiAttach != "Disabled" || d.PerformanceLevel != "PL0" || d.ZoneId != ecsemu.DefaultZone || !d.DeleteWithInstance {
		t.Errorf("disk = %+v", d)
	}
	if len(d.Attachments.Attachment) != 1 || d.Attachments.Attachment[0].InstanceId != ecsemu.DefaultInstanceID {
		t.Errorf("Attachments = %+v", d.Attachments)
	}
	raw := rawJSON(t, resp.GetHttpContentString())
	disk := raw["Disks"].(map[string]any)["Disk"].([]any)[0].(map[string]any)
	if _, ok := disk["Size"].(float64); !ok {
		t.Errorf("Size is %T, want a JSON number", disk["Size"])
	}

	tests := []struct {
		name string
		mod  func(*ecs.DescribeDisksRequest)
		want []string
	}{
		{"instance", func(r *ecs.DescribeDisksRequest) { r.InstanceId = ecsemu.DefaultInstanceID },
			[]string{ecsemu.DefaultSystemDiskID, ecsemu.DefaultDataDiskID, ecsemu.DemoEfficiencyDiskID, "d-shared"}},
		{"system", func(r *ecs.DescribeDisksRequest) { r.DiskType = "system" }, []string{ecsemu.DefaultSystemDiskID}},
		{"category", func(r *ecs.DescribeDisksRequest) { r.Category = "cloud_efficiency" }, []string{ecsemu.DemoEfficiencyDiskID}},
		{"multi-attach", func(r *ecs.DescribeDisksRequest) { r.MultiAttach = "Enabled" }, []string{"d-shared"}},
		{"status", func(r *ecs.DescribeDisksRequest) { r.Status = "Available" }, []string{"d-spare"}},
		{"tag", func(r *ecs.DescribeDisksRequest) {
			r.Tag = &[]ecs.DescribeDisksTag{{Key: "team", Value: "db"}}
		}, []string{"d-shared"}},
		{"ids", func(r *ecs.DescribeDisksRequest) { r.DiskIds = `["d-spare","d-nope"]` }, []string{"d-spare"}},
		{"empty ids", func(r *ecs.DescribeDisksRequest) { r.DiskIds = `[]` }, nil},
	}
	for _, tt := range tests {
		req := ecs.CreateDescribeDisksRequest()
		req.MaxResults = integer(100)
		tt.mod(req)
		resp, err := c.DescribeDisks(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var got []string
		for _, d := range resp.Disks.Disk {
			got = append(got, d.DiskId)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	shared := findDisk(t, c, "d-shared")
	if shared.MultiAttach != "Enabled" || shared.InstanceId != "" || shared.Device != "" || len(shared.Tags.Tag) != 1 || shared.Tags.Tag[0].TagKey != "team" {
		t.Errorf("multi-attach disk = %+v", shared)
	}

	bad := []struct {
		name string
		mod  func(*ecs.DescribeDisksRequest)
		code string
	}{
		{"disk type", func(r *ecs.DescribeDisksRequest) { r.DiskType = "boot" }, "InvalidParameter"},
		{"disk ids", func(r *ecs.DescribeDisksRequest) { r.DiskIds = "d-1,d-2" }, "InvalidDiskIds.Malformed"},
		{"next token", func(r *ecs.DescribeDisksRequest) { r.NextToken = "nope" }, "InvalidNextToken.Malformed"},
		{"page size", func(r *ecs.DescribeDisksRequest) { r.PageSize = integer(101) }, "InvalidParameter"},
	}
	for _, tt := range bad {
		req := ecs.CreateDescribeDisksRequest()
		tt.mod(req)
		_, err := c.DescribeDisks(req)
		wantAPIError(t, err, tt.code, http.StatusBadRequest)
	}
	req = ecs.CreateDescribeDisksRequest()
	req.DryRun = requests.NewBoolean(true)
	_, err = c.DescribeDisks(req)
	wantAPIError(t, err, "DryRunOperation", http.StatusBadRequest)
}

func findDisk(t *testing.T, c *ecs.Client, id string) ecs.Disk {
	t.Helper()
	req := ecs.CreateDescribeDisksRequest()
	req.DiskIds = `["` + id + `"]`
	resp, err := c.DescribeDisks(req)
	if err != nil || len(resp.Disks.Disk) != 1 {
		t.Fatalf("DescribeDisks(%s): %v %v", id, err, resp)
	}
	return resp.Disks.Disk[0]
}

func TestDescribeDisksPagination(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(manyDisks(25, 20)))
	c := env.ECSClient(t)

	// NextToken + MaxResults (clamped to at least 10).
	var ids []string
	token := ""
	pages := 0
	for {
		req := ecs.CreateDescribeDisksRequest()
		req.MaxResults = integer(3)
		req.NextToken = token
		resp, err := c.DescribeDisks(req)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(resp.Disks.Disk) > 10 {
			t.Fatalf("page of %d disks, want at most 10 (MaxResults clamped)", len(resp.Disks.Disk))
		}
		for _, d := range resp.Disks.Disk {
			ids = append(ids, d.DiskId)
		}
		if resp.NextToken == "" {
			break
		}
		token = resp.NextToken
	}
	if pages != 3 || len(ids) != 25 || ids[0] != diskID(0) || ids[24] != diskID(24) {
		t.Errorf("token paging: %d pages, %d disks (%v)", pages, len(ids), ids)
	}

	// PageNumber + PageSize.
	req := ecs.CreateDescribeDisksRequest()
	req.PageNumber = integer(3)
	req.PageSize = integer(10)
	resp, err := c.DescribeDisks(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.TotalCount != 25 || resp.PageNumber != 3 || resp.PageSize != 10 || len(resp.Disks.Disk) != 5 || resp.NextToken != "" {
		t.Errorf("page 3: total %d number %d size %d len %d token %q", resp.TotalCount, resp.PageNumber, resp.PageSize, len(resp.Disks.Disk), resp.NextToken)
	}
}
