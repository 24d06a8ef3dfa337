package plan

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
)

// Local is the guest's view of its disks, joined to the cloud inventory:
// which cloud disks lie under each mounted filesystem. The engine builds it
// from package topology; the planner only reads it.
type Local struct {
	// Devices maps cloud disk IDs to local device names (vdb, nvme1n1).
	Devices     map[string]string `json:"devices"`
	Filesystems []Filesystem      `json:"filesystems"`
	Warnings    []string          `json:"warnings,omitempty"`
}

// Filesystem is one mounted filesystem (one superblock).
type Filesystem struct {
	MountPoint string   `json:"mount_point"`
	Mounts     []string `json:"mounts,omitempty"` // every mount point of it, binds included
	FSType     string   `json:"fstype"`
	Source     string   `json:"source,omitempty"`
	Dev        string   `json:"dev"` // major:minor as in mountinfo
	ReadOnly   bool     `json:"read_only,omitempty"`
	Disks      []string `json:"disks,omitempty"`      // cloud disk IDs below it
	LocalOnly  []string `json:"local_only,omitempty"` // devices below it that are not cloud disks
	Err        string   `json:"error,omitempty"`      // its disks could not be determined
}

// Closure is a set of cloud disks that must be captured at one point in
// time because filesystems span them.
type Closure struct {
	Disks       []string `json:"disks"`
	Filesystems []string `json:"filesystems"`
	// How the point in time is kept: one snapshot group, frozen
	// filesystems across parallel creates, or not at all (accepted with
	// --allow-inconsistent).
	Grouped      bool `json:"grouped,omitempty"`
	Frozen       bool `json:"frozen,omitempty"`
	Inconsistent bool `json:"inconsistent,omitempty"`
}

// closures unions the disk sets of every filesystem: disks that share a
// filesystem, directly or through a chain of filesystems, belong together.
func (l *Local) closures() [][]string {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			root := find(p)
			parent[x] = root
			return root
		}
		parent[x] = x
		return x
	}
	for _, fs := range l.Filesystems {
		for _, d := range fs.Disks {
			a, b := find(fs.Disks[0]), find(d)
			if a != b {
				parent[b] = a
			}
		}
	}
	groups := map[string][]string{}
	for d := range parent {
		root := find(d)
		groups[root] = append(groups[root], d)
	}
	out := make([][]string, 0, len(groups))
	for _, g := range groups {
		sort.Strings(g)
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// filesystemsOn returns the filesystems that lie (at least partly) on any
// of the disks.
func (l *Local) filesystemsOn(disks []string) []Filesystem {
	var out []Filesystem
	for _, fs := range l.Filesystems {
		for _, d := range fs.Disks {
			if slices.Contains(disks, d) {
				out = append(out, fs)
				break
			}
		}
	}
	return out
}

// byMount finds the filesystem mounted at p (any of its mount points).
func (l *Local) byMount(p string) (Filesystem, bool) {
	p = path.Clean(p)
	for _, fs := range l.Filesystems {
		if fs.MountPoint == p || slices.Contains(fs.Mounts, p) {
			return fs, true
		}
	}
	return Filesystem{}, false
}

// mountSelection resolves --mount paths to the cloud disks under them.
func (l *Local) mountSelection(paths []string) ([]string, error) {
	var disks []string
	for _, p := range paths {
		fs, ok := l.byMount(p)
		switch {
		case !ok:
			return nil, fmt.Errorf("--mount %s: not a mount point (see `ecssnap disks` for the mounted filesystems)", p)
		case fs.Err != "":
			return nil, fmt.Errorf("--mount %s: cannot tell which disks hold it: %s", p, fs.Err)
		case len(fs.Disks) == 0 && len(fs.LocalOnly) > 0:
			return nil, fmt.Errorf("--mount %s: it lies on %s, which is not a cloud disk", p, strings.Join(fs.LocalOnly, ", "))
		case len(fs.Disks) == 0:
			return nil, fmt.Errorf("--mount %s: a %s filesystem on no disk; nothing to snapshot", p, fs.FSType)
		}
		disks = append(disks, fs.Disks...)
	}
	return disks, nil
}
