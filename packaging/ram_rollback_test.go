package packaging

import (
	"encoding/json"
	"os"
	"slices"
	"sort"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/cloud"
)

// The rollback policy, for the operator's credentials outside the instance,
// allows what `ecssnap rollback` calls and nothing more: the reads, the
// safety snapshots and their tags, stop, start and reset.
func TestRollbackRAMPolicy(t *testing.T) {
	data, err := os.ReadFile("ram-policy-rollback.json")
	if err != nil {
		t.Fatal(err)
	}
	var policy ramPolicy
	if err := json.Unmarshal(data, &policy); err != nil || policy.Version != "1" {
		t.Fatalf("not a version 1 policy: %v", err)
	}
	var got []string
	for _, st := range policy.Statement {
		if st.Effect != "Allow" {
			t.Errorf("Effect %q", st.Effect)
		}
		got = append(got, st.Action...)
	}
	want := []string{"ecs:DescribeInstances", "ecs:DescribeDisks", "ecs:DescribeSnapshots", "ecs:DescribeSnapshotGroups",
		"ecs:CreateSnapshot", "ecs:TagResources"}
	for _, a := range cloud.RollbackActions {
		want = append(want, "ecs:"+a)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("the rollback policy allows %v, rollback calls %v", got, want)
	}
}
