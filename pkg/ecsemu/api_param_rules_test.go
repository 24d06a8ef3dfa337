package ecsemu

import "testing"

func TestHasParam(t *testing.T) {
	p := params{
		"DiskId": "d-1", "Empty": "", "ResourceId.2": "s-1", "Tag.3.Key": "k", "Tag.4.Value": "v",
		"Disk.0.Id": "x", "Bad.x": "y", "TagKey.1": "",
	}
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"DiskId", true},
		{"Empty", false},
		{"Absent", false},
		{"ResourceId.N", true},   // any index
		{"Tag.N.Key", true},      // a field of any index
		{"Tag.N.Value", true},    // Tag.4.Value
		{"Disk.N.Id", false},     // indexes start at 1
		{"Bad.N", false},         // not a number
		{"TagKey.N", false},      // empty values do not count
		{"ResourceId", false},    // the repeated form is not the plain name
		{"Tag.N.Missing", false}, // no such field
	} {
		if got := hasParam(p, tc.name); got != tc.want {
			t.Errorf("hasParam(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Every served action declares its rules on purpose: a regional action
// names no RegionId among its required parameters (the flag covers it),
// and the actions the API documents without RegionId are not regional.
func TestActionRulesDeclared(t *testing.T) {
	for name, spec := range actions {
		for _, r := range spec.params.required {
			if r == "RegionId" {
				t.Errorf("%s lists RegionId; use regional()", name)
			}
		}
	}
	for _, name := range []string{"CreateSnapshot", "DeleteSnapshot", "ModifySnapshotAttribute", "DescribeInstanceAttribute"} {
		if spec, ok := actions[name]; !ok || spec.params.regional {
			t.Errorf("%s: served %v, regional %v; the API has no RegionId", name, ok, spec.params.regional)
		}
	}
}
