package topology

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

var (
	// ErrUnknownDevice means a mount or a stacked device refers to a block
	// device that sysfs does not list (or no longer lists), so the disks
	// under it cannot be known.
	ErrUnknownDevice = errors.New("block device not found in sysfs")
	// ErrUnsupportedFilesystem means a filesystem spans block devices in a
	// way this package cannot see (ZFS, bcachefs report major 0 like
	// btrfs, but keep no member list in sysfs).
	ErrUnsupportedFilesystem = errors.New("multi-device filesystem not supported")
	errCycle                 = errors.New("cycle in the sysfs slaves/ relation")
)

// opaqueMultiDevice reports filesystem types that sit on block devices
// but show major 0 in mountinfo and publish no member list to follow.
func opaqueMultiDevice(fsType string) bool {
	return fsType == "zfs" || fsType == "bcachefs"
}

// closure is the set of whole disks under one device, or why it is unknown.
type closure struct {
	disks []string
	err   error
}

// index holds what DisksUnder, MountsOn and Holders need, computed once.
type index struct {
	byDev    map[string]string  // "maj:min" -> device name
	btrfsOf  map[string]string  // member device name -> btrfs fsid
	btrfsSB  map[string]bool    // "maj:min" of every btrfs superblock in the mount table
	under    map[string]closure // device name -> whole disks below it
	mountsOn map[string][]int   // whole disk -> indexes into Topology.Mounts
}

// index returns the index Discover built, or builds a throwaway one for a
// Topology assembled by hand.
func (t *Topology) index() *index {
	if t.idx != nil {
		return t.idx
	}
	return buildIndex(t)
}

func buildIndex(t *Topology) *index {
	ix := &index{
		byDev:    make(map[string]string, len(t.Devices)),
		btrfsOf:  make(map[string]string),
		btrfsSB:  make(map[string]bool),
		under:    make(map[string]closure, len(t.Devices)),
		mountsOn: make(map[string][]int),
	}
	for name, d := range t.Devices {
		ix.byDev[d.Dev] = name
	}
	for fsid, members := range t.Btrfs {
		for _, m := range members {
			ix.btrfsOf[m] = fsid
		}
	}
	for _, m := range t.Mounts {
		if m.FSType == "btrfs" {
			ix.btrfsSB[m.Dev] = true
		}
	}
	for name := range t.Devices {
		ix.below(t, name)
	}
	for i, m := range t.Mounts {
		disks, err := t.disksUnder(ix, m)
		if err != nil {
			continue
		}
		for _, d := range disks {
			ix.mountsOn[d] = append(ix.mountsOn[d], i)
		}
	}
	return ix
}

// below returns the whole disks under device name, memoised. A device in
// progress is marked with errCycle first, so a slaves/ loop (which a sane
// kernel never shows) ends in an error instead of a stack overflow.
func (ix *index) below(t *Topology, name string) closure {
	if c, ok := ix.under[name]; ok {
		return c
	}
	ix.under[name] = closure{err: fmt.Errorf("%s: %w", name, errCycle)}
	c := ix.computeBelow(t, name)
	ix.under[name] = c
	return c
}

func (ix *index) computeBelow(t *Topology, name string) closure {
	d := t.Devices[name]
	switch {
	case d == nil:
		return closure{err: fmt.Errorf("%s: %w", name, ErrUnknownDevice)}
	case d.Kind == KindPartition:
		if d.Parent == "" {
			return closure{err: fmt.Errorf("partition %s: parent unknown: %w", name, ErrUnknownDevice)}
		}
		return ix.below(t, d.Parent)
	case d.IsWholeDisk() && len(d.Slaves) == 0:
		// Loop devices count as whole disks: what backs them is a file,
		// and a file is not a block device we could snapshot separately.
		return closure{disks: []string{name}}
	}
	// dm and md devices (and anything else with slaves) stand on their
	// slaves: LVM linear and striped LVs on PVs, thin volumes on the
	// pool's -tpool device (itself on _tdata and _tmeta), dm-crypt on its
	// backing device, md arrays on their members.
	var set []string
	for _, s := range d.Slaves {
		c := ix.below(t, s)
		if c.err != nil {
			return closure{err: fmt.Errorf("%s: %w", name, c.err)}
		}
		set = append(set, c.disks...)
	}
	return closure{disks: sortedUnique(set)}
}

func sortedUnique(s []string) []string {
	slices.SortFunc(s, compareNames)
	return slices.Compact(s)
}

// DisksUnder returns the whole disks (natural order) that hold the
// filesystem mounted at m: a partition's disk, the disks under a dm or md
// device through slaves/ recursively, every member of a btrfs filesystem.
// It returns nil and no error for filesystems not on block devices (tmpfs,
// proc, overlay, network filesystems), and an error wrapping
// ErrUnknownDevice or ErrUnsupportedFilesystem when the answer cannot be
// known: a caller that must not split a filesystem should refuse then.
func (t *Topology) DisksUnder(m Mount) ([]string, error) {
	return t.disksUnder(t.index(), m)
}

func (t *Topology) disksUnder(ix *index, m Mount) ([]string, error) {
	devs, err := t.mountDevices(ix, m)
	if err != nil {
		return nil, fmt.Errorf("disks under %s: %w", m.MountPoint, err)
	}
	var set []string
	for _, dev := range devs {
		c := ix.below(t, dev)
		if c.err != nil {
			return nil, fmt.Errorf("disks under %s: %w", m.MountPoint, c.err)
		}
		set = append(set, c.disks...)
	}
	if len(devs) == 1 {
		// Already sorted and unique; copy so callers cannot edit the memo.
		return slices.Clone(set), nil
	}
	return sortedUnique(set), nil
}

// mountDevices returns the block devices a mount's superblock sits on
// directly: one for most filesystems, every member for btrfs.
func (t *Topology) mountDevices(ix *index, m Mount) ([]string, error) {
	major, _, err := parseDevNumber(m.Dev)
	if err != nil {
		return nil, err
	}
	if m.FSType == "btrfs" {
		return t.btrfsDevices(ix, m)
	}
	if major == 0 {
		if opaqueMultiDevice(m.FSType) {
			return nil, fmt.Errorf("%s: %w", m.FSType, ErrUnsupportedFilesystem)
		}
		return nil, nil
	}
	if name := ix.byDev[m.Dev]; name != "" {
		return []string{name}, nil
	}
	return nil, fmt.Errorf("device %s of %s: %w", m.Dev, m.Source, ErrUnknownDevice)
}

// btrfsDevices finds a btrfs mount's members. mountinfo gives btrfs an
// anonymous device number (major 0), so the source device names the
// filesystem: the member it was mounted from, resolved by Discover or, for
// a hand-built Topology, by its /dev name. /sys/fs/btrfs/<fsid>/devices
// then lists all members. When the source says nothing (a kernel-mounted
// root shows /dev/root), a machine with a single btrfs filesystem is
// still unambiguous: one in /sys/fs/btrfs and one btrfs superblock in the
// mount table. sysfs can list fewer than the mount table shows (a guest
// view under ECSSNAP_ROOT lists only its own disks' filesystems; a btrfs
// mounted from a device that appeared after /sys was read is in neither
// list), and a source naming a device we do not know is then a second
// filesystem, with a superblock number of its own: it is unknown, not
// the first one, whose closure and freeze set it would otherwise join.
func (t *Topology) btrfsDevices(ix *index, m Mount) ([]string, error) {
	dev := m.device
	if dev == "" {
		if rel, ok := strings.CutPrefix(m.Source, "/dev/"); ok {
			dev = deviceFromDevName(rel, t.Devices)
		}
	}
	if dev != "" {
		if fsid := ix.btrfsOf[dev]; fsid != "" {
			return slices.Clone(t.Btrfs[fsid]), nil
		}
		return nil, fmt.Errorf("btrfs on %s: no /sys/fs/btrfs entry lists it: %w", dev, ErrUnknownDevice)
	}
	supers := len(ix.btrfsSB)
	if !ix.btrfsSB[m.Dev] {
		supers++ // a mount given by hand, not in the table
	}
	if len(t.Btrfs) == 1 && supers == 1 {
		for _, members := range t.Btrfs {
			return slices.Clone(members), nil
		}
	}
	return nil, fmt.Errorf("btrfs source %q matches no device and %d btrfs filesystems are mounted: %w",
		m.Source, max(len(t.Btrfs), supers), ErrUnknownDevice)
}

// MountsOn returns the mounts (bind mounts included, in mount table order)
// whose filesystem lives at least partly on the whole disk named disk.
// Mounts whose disks cannot be resolved are left out; DisksUnder reports
// them.
func (t *Topology) MountsOn(disk string) []Mount {
	var out []Mount
	for _, i := range t.index().mountsOn[disk] {
		out = append(out, t.Mounts[i])
	}
	return out
}

// SuperblockMounts returns one mount per mounted filesystem (superblock,
// told apart by device number) in mount table order: the first mount
// showing the filesystem's root, or failing that its first mount. Freezing
// acts on superblocks, so this is the list to freeze from.
func (t *Topology) SuperblockMounts() []Mount {
	pick := make(map[string]int)
	var order []string
	for i, m := range t.Mounts {
		j, seen := pick[m.Dev]
		switch {
		case !seen:
			pick[m.Dev] = i
			order = append(order, m.Dev)
		case t.Mounts[j].Root != "/" && m.Root == "/":
			pick[m.Dev] = i
		}
	}
	out := make([]Mount, 0, len(order))
	for _, dev := range order {
		out = append(out, t.Mounts[pick[dev]])
	}
	return out
}

// Holders returns every device stacked on disk, for display: its
// partitions and the dm and md devices above it, transitively, nearest
// first (breadth first, each level in natural order).
func (t *Topology) Holders(disk string) []string {
	d := t.Devices[disk]
	if d == nil {
		return nil
	}
	seen := map[string]bool{disk: true}
	var out []string
	queue := []*BlockDevice{d}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		var next []string
		next = append(next, cur.Partitions...)
		next = append(next, cur.Holders...)
		slices.SortFunc(next, compareNames)
		for _, n := range next {
			if seen[n] {
				continue
			}
			seen[n] = true
			out = append(out, n)
			if nd := t.Devices[n]; nd != nil {
				queue = append(queue, nd)
			}
		}
	}
	return out
}

// resolveMountDevices records on each mount the block device its
// superblock lives on (Mount.Device). btrfs is found through its source
// path; everything else through its device number.
func (fs FS) resolveMountDevices(t *Topology, warn func(string, ...any)) {
	byDev := make(map[string]string, len(t.Devices))
	for name, d := range t.Devices {
		byDev[d.Dev] = name
	}
	for i := range t.Mounts {
		m := &t.Mounts[i]
		major, _, err := parseDevNumber(m.Dev)
		if err != nil {
			continue // ParseMountInfo validated it; a hand-built Mount may not be
		}
		switch {
		case m.FSType == "btrfs":
			m.device = fs.resolveDevPath(m.Source, t.Devices, byDev)
		case major != 0:
			if name := byDev[m.Dev]; name != "" {
				m.device = name
				continue
			}
			// A device that appeared after /sys/class/block was listed:
			// name it in the warning so the operator can tell what moved.
			name, ok, _ := fs.deviceByNumber(m.Dev)
			if !ok {
				name = "unknown"
			}
			warn("mount %s: device %s (%s) was not listed in /sys/class/block", m.MountPoint, m.Dev, name)
		}
	}
}
