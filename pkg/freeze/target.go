package freeze

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Target is one mounted filesystem as seen in mountinfo.
type Target struct {
	MountPoint string // where it is mounted, unescaped
	FSType     string // filesystem type, e.g. "ext4" or "fuse.sshfs"
	Dev        string // "major:minor" of the superblock, from mountinfo
	ReadOnly   bool   // mounted or superblock read-only
	Source     string // mount source, e.g. "/dev/vda1"
}

// Skipped is a target that will not be frozen, and why.
type Skipped struct {
	Target
	Reason string
}

// neverFreeze maps filesystem types that must not or cannot be frozen to
// the reason given to the user. Types not listed are tried; the kernel
// answers EOPNOTSUPP for those that cannot freeze.
var neverFreeze = map[string]string{}

func init() {
	add := func(reason string, types ...string) {
		for _, t := range types {
			neverFreeze[t] = reason
		}
	}
	// Freezing these would stall other machines or a remote server, or is a
	// no-op for the local block devices that we snapshot.
	add("network filesystem", "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph",
		"glusterfs", "9p", "afs", "ncpfs", "lustre", "beegfs", "gpfs",
		"virtiofs", "vboxsf", "davfs")
	// A cluster filesystem freezes on every node of the cluster.
	add("cluster filesystem", "gfs2", "ocfs2")
	// FUSE: the daemon that serves it may itself need a frozen filesystem.
	add("FUSE filesystem", "fuse", "fuseblk", "fusectl")
	// Memory-backed or kernel-interface filesystems have no disk behind them.
	add("virtual filesystem", "tmpfs", "ramfs", "devtmpfs", "devpts", "proc",
		"sysfs", "cgroup", "cgroup2", "cpuset", "securityfs", "debugfs",
		"tracefs", "pstore", "bpf", "mqueue", "hugetlbfs", "autofs",
		"efivarfs", "configfs", "binfmt_misc", "rpc_pipefs", "nsfs",
		"selinuxfs", "rootfs", "none")
	// Union filesystems: freezing one does not freeze the layers below.
	add("union filesystem", "overlay", "aufs")
	// Read-only by construction.
	add("read-only filesystem", "squashfs", "iso9660", "erofs", "cramfs", "udf")
}

// skipReason says why t must never be frozen, or "" if it may be.
func skipReason(t Target) string {
	typ := strings.ToLower(t.FSType)
	switch {
	case t.MountPoint == "" || !path.IsAbs(t.MountPoint):
		return "mount point is not an absolute path"
	case strings.HasPrefix(typ, "fuse."):
		return "FUSE filesystem (" + t.FSType + ")"
	case neverFreeze[typ] != "":
		return neverFreeze[typ] + " (" + t.FSType + ")"
	case t.ReadOnly:
		return "read-only mount"
	}
	return ""
}

// Classify splits targets into those to freeze, in freeze order, and those
// skipped with a reason. Each superblock is frozen once: mounts with the same
// Dev are bind mounts (or btrfs subvolumes) of one filesystem, and the one
// with the shortest path is kept. The order freezes a filesystem before any
// filesystem it is mounted inside, and / last, because a child's writeback
// may need its parent (a loop file, a mount point lookup) while the reverse
// never holds. Thaw in the reverse order.
//
// The order is made of nesting levels, leaves first (see levelsChildrenFirst);
// the helper freezes the members of one level concurrently.
func Classify(targets []Target) (freeze []Target, skipped []Skipped) {
	freeze, _, skipped = classifyLevels(targets)
	return freeze, skipped
}

// classifyLevels is Classify that also returns the nesting level of each
// target to freeze: levels[i] belongs to freeze[i], 0 for the leaves,
// ascending along freeze. No target is mounted inside another of its level.
func classifyLevels(targets []Target) (freeze []Target, levels []int, skipped []Skipped) {
	groups := map[string]*sbGroup{}
	var order []*sbGroup
	for _, t := range targets {
		t.MountPoint = cleanMountPoint(t.MountPoint)
		if reason := skipReason(t); reason != "" {
			skipped = append(skipped, Skipped{Target: t, Reason: reason})
			continue
		}
		key := t.Dev
		if key == "" {
			// Without a device number bind mounts cannot be recognised;
			// keying by path at least never merges different filesystems.
			key = "path:" + t.MountPoint
		}
		g := groups[key]
		if g == nil {
			g = &sbGroup{}
			groups[key] = g
			order = append(order, g)
		}
		g.members = append(g.members, t)
	}
	for _, g := range order {
		g.pickRepresentative()
		for _, m := range g.members {
			if m.MountPoint != g.rep.MountPoint {
				skipped = append(skipped, Skipped{Target: m,
					Reason: fmt.Sprintf("same filesystem as %s (device %s)", g.rep.MountPoint, m.Dev)})
			}
		}
	}
	for level, gs := range levelsChildrenFirst(order) {
		for _, g := range gs {
			freeze = append(freeze, g.rep)
			levels = append(levels, level)
		}
	}
	return freeze, levels, skipped
}

// sbGroup is all mounts of one superblock.
type sbGroup struct {
	members  []Target
	rep      Target
	maxDepth int
	isRoot   bool
}

func (g *sbGroup) pickRepresentative() {
	g.rep = g.members[0]
	for _, m := range g.members {
		d := depth(m.MountPoint)
		g.maxDepth = max(g.maxDepth, d)
		g.isRoot = g.isRoot || m.MountPoint == "/"
		if r := depth(g.rep.MountPoint); d < r || (d == r && m.MountPoint < g.rep.MountPoint) {
			g.rep = m
		}
	}
}

// levelsChildrenFirst splits groups into nesting levels, leaves first:
// each level takes every remaining group that has no remaining group
// mounted inside it. So no group of a level is mounted inside another of the
// same level, and their FIFREEZEs (each on its own superblock) may run at
// once, while every level waits for the ones before it. Within a level the
// deepest goes first, then by path, so that the order is deterministic. The
// root filesystem is always alone in the last level.
//
// Pathological bind mounts (each inside the other) leave no group free; the
// deepest group whose mount point has no other remaining group's mount point
// below it then forms a level alone, which breaks the cycle and keeps the
// representatives' own nesting in order (the helper checks that).
func levelsChildrenFirst(groups []*sbGroup) [][]*sbGroup {
	remaining := slices.Clone(groups)
	var levels [][]*sbGroup
	for len(remaining) > 0 {
		var free, rest []*sbGroup
		for _, g := range remaining {
			if g.isRoot && len(remaining) > 1 || hasInside(g, remaining) {
				rest = append(rest, g)
			} else {
				free = append(free, g)
			}
		}
		if len(free) == 0 {
			best := -1
			for i, g := range rest {
				if !repHasBelow(g, rest) && (best < 0 || before(g, rest[best])) {
					best = i
				}
			}
			// Paths nest without cycles, so some representative has none
			// below it; best is always found.
			free = []*sbGroup{rest[best]}
			rest = slices.Delete(rest, best, best+1)
		}
		slices.SortFunc(free, func(a, b *sbGroup) int {
			switch {
			case before(a, b):
				return -1
			case before(b, a):
				return 1
			}
			return 0
		})
		levels = append(levels, free)
		remaining = rest
	}
	return levels
}

// hasInside reports whether some group of gs other than g is mounted inside g.
func hasInside(g *sbGroup, gs []*sbGroup) bool {
	for _, o := range gs {
		if o != g && mountedInside(o, g) {
			return true
		}
	}
	return false
}

// repHasBelow reports whether the representative of some group of gs lies
// below g's representative.
func repHasBelow(g *sbGroup, gs []*sbGroup) bool {
	for _, o := range gs {
		if isBelow(o.rep.MountPoint, g.rep.MountPoint) {
			return true
		}
	}
	return false
}

// before is the tie-break among groups free to go: deeper first, then by path.
func before(a, b *sbGroup) bool {
	if a.maxDepth != b.maxDepth {
		return a.maxDepth > b.maxDepth
	}
	return a.rep.MountPoint < b.rep.MountPoint
}

// mountedInside reports whether some mount of child lies strictly below
// some mount of parent.
func mountedInside(child, parent *sbGroup) bool {
	for _, c := range child.members {
		for _, p := range parent.members {
			if isBelow(c.MountPoint, p.MountPoint) {
				return true
			}
		}
	}
	return false
}

// isBelow reports whether clean path p lies strictly below directory dir.
// It does not allocate: the helper runs it on every pair of mounts.
func isBelow(p, dir string) bool {
	if dir == "/" {
		return p != "/"
	}
	return len(p) > len(dir) && p[len(dir)] == '/' && strings.HasPrefix(p, dir)
}

func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

func cleanMountPoint(p string) string {
	if p == "" {
		return ""
	}
	return path.Clean(p)
}
