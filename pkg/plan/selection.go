package plan

import (
	"fmt"
	"strings"

	"github.com/ecssnap/ecssnap/pkg/cloud"
)

// Selection says which of the instance's disks a job covers: all of them,
// the system disk, the data disks, or disks named by ID.
type Selection struct {
	Kind string   `json:"kind"` // all, system, data or ids
	IDs  []string `json:"ids,omitempty"`
}

// ParseSelection reads the --disks value: "all", "system", "data", or a
// comma-separated list of disk IDs (d-...).
func ParseSelection(s string) (Selection, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "all":
		return Selection{Kind: "all"}, nil
	case "system", "data":
		return Selection{Kind: s}, nil
	}
	var ids []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.HasPrefix(part, "d-") || len(part) < 3 || strings.ContainsAny(part, " \t/") {
			return Selection{}, fmt.Errorf("--disks %q: expected all, system, data or disk IDs like d-bp1...", part)
		}
		ids = append(ids, part)
	}
	if len(ids) == 0 {
		return Selection{}, fmt.Errorf("--disks %q: expected all, system, data or disk IDs", s)
	}
	return Selection{Kind: "ids", IDs: ids}, nil
}

// String renders the selection the way --disks takes it.
func (s Selection) String() string {
	if s.Kind == "ids" {
		return strings.Join(s.IDs, ",")
	}
	if s.Kind == "" {
		return "all"
	}
	return s.Kind
}

func (s Selection) apply(disks []cloud.Disk) ([]cloud.Disk, error) {
	var out []cloud.Disk
	switch s.Kind {
	case "", "all":
		out = append(out, disks...)
	case "system", "data":
		for _, d := range disks {
			if d.Type == s.Kind {
				out = append(out, d)
			}
		}
	case "ids":
		byID := make(map[string]cloud.Disk, len(disks))
		for _, d := range disks {
			byID[d.ID] = d
		}
		seen := map[string]bool{}
		for _, id := range s.IDs {
			d, ok := byID[id]
			if !ok {
				return nil, fmt.Errorf("disk %s is not attached to this instance: see `ecssnap disks`", id)
			}
			if !seen[id] {
				seen[id] = true
				out = append(out, d)
			}
		}
	default:
		return nil, fmt.Errorf("unknown disk selection %q", s.Kind)
	}
	return out, nil
}
