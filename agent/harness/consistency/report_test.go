package consistency

import (
	"strings"
	"testing"
)

func TestVerdict(t *testing.T) {
	ok := Trial{Mounted: true}
	broken := Trial{Mounted: true, Errors: []string{"scrub: csum=12"}}
	lost := Trial{Mounted: true, Lost: 3}
	for _, tc := range []struct {
		name  string
		cells []Cell
		want  []string // substrings, one per problem
	}{
		{"all as expected", []Cell{
			{Workload: "btrfs-raid0", Method: MethodPerDisk, Trials: []Trial{ok, broken}},
			{Workload: "btrfs-raid0", Method: MethodFSGroup, Trials: []Trial{ok, ok}},
		}, nil},
		{"per-disk never caught", []Cell{
			{Workload: "btrfs-raid0", Method: MethodPerDisk, Trials: []Trial{ok, ok}},
		}, []string{"never damaged"}},
		{"ecssnap loses", []Cell{
			{Workload: "btrfs-raid0", Method: MethodPerDisk, Trials: []Trial{lost}},
			{Workload: "xfs", Method: MethodCrashGroup, Trials: []Trial{ok, lost}},
		}, []string{"xfs / ecssnap crash (group): 3 acknowledged records lost"}},
		{"ecssnap breaks and fails", []Cell{
			{Workload: "ext4", Method: MethodFSNoGroup, Trials: []Trial{broken, {Failure: "exit 1"}}},
		}, []string{"1 trials failed to snapshot, 1 damaged clones"}},
		{"skipped rows count for nothing", []Cell{
			{Workload: "md-raid0", Method: MethodPerDisk, Skipped: "no md"},
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := (&Report{Cells: tc.cells}).verdict()
			if len(got) != len(tc.want) {
				t.Fatalf("verdict %q, want %d problems", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %q does not say %q", got[i], w)
				}
			}
		})
	}
}
