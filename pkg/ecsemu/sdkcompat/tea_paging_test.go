package sdkcompat

import (
	"fmt"
	"testing"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// pagingScenario: five data disks on the instance, two more instances,
// and ListTagResources pages of two.
func pagingScenario() *ecsemu.Scenario {
	sc := ecsemu.DefaultScenario()
	for i := range 3 {
		sc.Disks = append(sc.Disks, ecsemu.Disk{ID: fmt.Sprintf("d-page%d", i), SizeGiB: 20, Category: "cloud_essd",
			Tags: map[string]string{"team": "paging"}})
	}
	for i := range 2 {
		in := sc.Instance
		in.ID, in.SerialNumber, in.Hostname = fmt.Sprintf("i-page%d", i), "", ""
		sc.Instances = append(sc.Instances, in)
	}
	sc.Behavior.TagListPageSize = 2
	return sc
}

// Both paging styles as the SDK's users drive them: NextToken/MaxResults
// until the token is empty, and PageNumber/PageSize against TotalCount.
func TestTeaPaging(t *testing.T) {
	for _, mode := range []string{signV3, signV1} {
		t.Run(mode, func(t *testing.T) {
			env := startTLS(t, ecsemutest.WithScenario(pagingScenario()))
			c := teaClient(t, teaConfig(t, env, mode))
			region := tea.String(env.RegionID)

			var created []string
			for i := range 5 {
				s, err := c.CreateSnapshot(&ecs.CreateSnapshotRequest{DiskId: tea.String(fmt.Sprintf("d-page%d", i%3))})
				if err != nil {
					t.Fatalf("CreateSnapshot %d: %v", i, err)
				}
				created = append(created, tea.StringValue(s.Body.SnapshotId))
			}

			// NextToken style.
			seen := map[string]bool{}
			var token *string
			pages := 0
			for {
				resp, err := c.DescribeSnapshots(&ecs.DescribeSnapshotsRequest{RegionId: region, MaxResults: tea.Int32(2), NextToken: token})
				if err != nil {
					t.Fatalf("DescribeSnapshots page %d: %v", pages+1, err)
				}
				pages++
				for _, s := range resp.Body.Snapshots.Snapshot {
					if seen[tea.StringValue(s.SnapshotId)] {
						t.Errorf("snapshot %s listed twice", tea.StringValue(s.SnapshotId))
					}
					seen[tea.StringValue(s.SnapshotId)] = true
				}
				if tea.StringValue(resp.Body.NextToken) == "" {
					break
				}
				token = resp.Body.NextToken
			}
			if pages != 3 || len(seen) != len(created) {
				t.Errorf("NextToken paging: %d pages, %d snapshots; want 3 pages, %d", pages, len(seen), len(created))
			}

			// PageNumber/PageSize style.
			var disks []string
			for page := int32(1); ; page++ {
				resp, err := c.DescribeDisks(&ecs.DescribeDisksRequest{RegionId: region, PageNumber: tea.Int32(page), PageSize: tea.Int32(2)})
				if err != nil {
					t.Fatalf("DescribeDisks page %d: %v", page, err)
				}
				if tea.Int32Value(resp.Body.TotalCount) != 5 || tea.Int32Value(resp.Body.PageNumber) != page {
					t.Fatalf("DescribeDisks page %d: TotalCount %d PageNumber %d", page, tea.Int32Value(resp.Body.TotalCount), tea.Int32Value(resp.Body.PageNumber))
				}
				if len(resp.Body.Disks.Disk) == 0 {
					break
				}
				for _, d := range resp.Body.Disks.Disk {
					disks = append(disks, tea.StringValue(d.DiskId))
				}
			}
			if len(disks) != 5 {
				t.Errorf("PageNumber paging listed %d disks, want 5: %v", len(disks), disks)
			}

			// DescribeInstanceStatus pages by number only.
			var statuses []string
			for page := int32(1); page <= 3; page++ {
				resp, err := c.DescribeInstanceStatus(&ecs.DescribeInstanceStatusRequest{RegionId: region, PageNumber: tea.Int32(page), PageSize: tea.Int32(1)})
				if err != nil {
					t.Fatalf("DescribeInstanceStatus page %d: %v", page, err)
				}
				if tea.Int32Value(resp.Body.TotalCount) != 3 {
					t.Fatalf("DescribeInstanceStatus TotalCount = %d, want 3", tea.Int32Value(resp.Body.TotalCount))
				}
				for _, s := range resp.Body.InstanceStatuses.InstanceStatus {
					statuses = append(statuses, tea.StringValue(s.InstanceId))
				}
			}
			if want := []string{env.InstanceID, "i-page0", "i-page1"}; fmt.Sprint(statuses) != fmt.Sprint(want) {
				t.Errorf("DescribeInstanceStatus pages = %v, want %v", statuses, want)
			}

			// ListTagResources pages by NextToken alone (no MaxResults).
			var pairs []string
			token = nil
			for pages = 0; pages < 10; pages++ {
				resp, err := c.ListTagResources(&ecs.ListTagResourcesRequest{
					RegionId: region, ResourceType: tea.String("disk"), NextToken: token,
					Tag: []*ecs.ListTagResourcesRequestTag{{Key: tea.String("team"), Value: tea.String("paging")}},
				})
				if err != nil {
					t.Fatalf("ListTagResources page %d: %v", pages+1, err)
				}
				for _, r := range resp.Body.TagResources.TagResource {
					pairs = append(pairs, tea.StringValue(r.ResourceId))
				}
				if tea.StringValue(resp.Body.NextToken) == "" {
					break
				}
				token = resp.Body.NextToken
			}
			if want := []string{"d-page0", "d-page1", "d-page2"}; fmt.Sprint(pairs) != fmt.Sprint(want) || pages != 1 {
				t.Errorf("ListTagResources pages: %v after %d NextTokens, want %v after 1", pairs, pages, want)
			}
		})
	}
}
