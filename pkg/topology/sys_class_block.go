package topology

import (
	"fmt"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// maxReadWorkers bounds the goroutines reading devices.
const maxReadWorkers = 8

// readBlockDevices enumerates /sys/class/block (every disk and partition)
// and reads each device's attributes. /sys/block says which entries are
// whole disks.
func (fs FS) readBlockDevices(r *sysReader, warn func(string, ...any)) (map[string]*BlockDevice, error) {
	wholeNames, _, err := r.list(fs.sysPath(sysBlock))
	if err != nil {
		return nil, err
	}
	whole := make(map[string]bool, len(wholeNames))
	for _, n := range wholeNames {
		whole[n] = true
	}

	// dirs maps a device name to the directory holding its attributes and,
	// when known without a symlink, its parent.
	type entry struct{ dir, parent string }
	dirs := make(map[string]entry)
	names, ok, err := r.list(fs.sysPath(sysClassBlock))
	if err != nil {
		return nil, err
	}
	if ok {
		for _, n := range names {
			dirs[n] = entry{dir: fs.sysPath(sysClassBlock, n)}
		}
	} else {
		// Kernels built with CONFIG_SYSFS_DEPRECATED have no
		// /sys/class/block; partitions are subdirectories of their disk in
		// /sys/block there.
		for _, w := range wholeNames {
			dir := fs.sysPath(sysBlock, w)
			dirs[w] = entry{dir: dir}
			subs, _, err := r.list(dir)
			if err != nil {
				return nil, err
			}
			for _, s := range subs {
				if strings.HasPrefix(s, w) {
					if _, ok, _ := r.attr(filepath.Join(dir, s, "partition")); ok {
						dirs[s] = entry{dir: filepath.Join(dir, s), parent: w}
					}
				}
			}
		}
	}

	// Devices are read by a few workers in parallel: the work is system
	// calls into sysfs, and on a machine with dozens of disks doing them
	// from one thread is what makes Discover slow.
	order := slices.Sorted(maps.Keys(dirs))
	results := make([]*BlockDevice, len(order))
	errs := make([]error, len(order))
	warns := make([][]string, len(order))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), maxReadWorkers, len(order)) {
		wg.Go(func() {
			wr := new(sysReader)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(order) {
					return
				}
				e := dirs[order[i]]
				results[i], errs[i] = fs.readDevice(wr, order[i], e.dir, e.parent, func(f string, a ...any) {
					warns[i] = append(warns[i], fmt.Sprintf(f, a...))
				})
			}
		})
	}
	wg.Wait()
	devs := make(map[string]*BlockDevice, len(order))
	for i, name := range order {
		if errs[i] != nil {
			return nil, errs[i]
		}
		for _, w := range warns[i] {
			warn("%s", w)
		}
		if results[i] == nil {
			warn("%s: disappeared while it was being read", name)
			continue
		}
		devs[name] = results[i]
	}
	linkDevices(devs, whole)
	return devs, nil
}

// readDevice reads one device's attributes from dir. It returns nil when
// the device has no dev attribute, which happens when it is removed while
// we read. The directory is listed first so that only attributes that
// exist are opened: on a large machine the failed opens of absent ones
// would cost as much as the reads.
func (fs FS) readDevice(r *sysReader, name, dir, parentHint string, warn func(string, ...any)) (*BlockDevice, error) {
	sd, ok, err := r.openDir(dir)
	if err != nil || !ok {
		return nil, err
	}
	defer sd.close()
	entries, err := r.names(sd)
	if err != nil {
		if isAbsent(err) {
			return nil, nil
		}
		return nil, err
	}
	has := func(n string) bool { return slices.Contains(entries, n) }
	if !has("dev") {
		return nil, nil
	}
	devText, ok, err := r.textIn(sd, "dev")
	if err != nil || !ok {
		return nil, err
	}
	major, minor, err := parseDevNumber(devText)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	d := &BlockDevice{Name: name, Dev: fmt.Sprintf("%d:%d", major, minor), Transport: TransportOther}

	if has("size") {
		s, ok, err := r.textIn(sd, "size")
		if err != nil {
			return nil, err
		}
		if ok {
			if d.SizeBytes, err = parseSizeSectors(s); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	for _, f := range []struct {
		attr string
		dst  *bool
	}{{"ro", &d.ReadOnly}, {"removable", &d.Removable}} {
		if !has(f.attr) {
			continue
		}
		s, ok, err := r.textIn(sd, f.attr)
		if err != nil {
			return nil, err
		}
		if ok {
			if *f.dst, err = parseFlag(s); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", name, f.attr, err)
			}
		}
	}
	for _, rel := range []struct {
		dir string
		dst *[]string
	}{{"slaves", &d.Slaves}, {"holders", &d.Holders}} {
		if !has(rel.dir) {
			continue
		}
		names, _, err := r.listIn(sd, rel.dir)
		if err != nil {
			return nil, err
		}
		if len(names) > 0 {
			slices.SortFunc(names, compareNames)
			*rel.dst = names
		}
	}

	// The kind is told by which attribute groups exist: "partition" for
	// partitions, dm/ for device-mapper, md/ for md arrays, the name for
	// loop devices (their loop/ group only exists while one is bound).
	switch {
	case has("partition"):
		d.Kind = KindPartition
		d.Parent = parentHint
		if d.Parent == "" {
			if d.Parent, err = partitionParent(dir); err != nil {
				return nil, err
			}
		}
	case has("dm"):
		d.Kind = KindDM
		dmName, _, err := r.textIn(sd, "dm/name")
		if err != nil {
			return nil, err
		}
		uuid, _, err := r.textIn(sd, "dm/uuid")
		if err != nil {
			return nil, err
		}
		d.DMName, d.DMUUID = strings.TrimSpace(dmName), strings.TrimSpace(uuid)
		d.DMKind = dmKindFromUUID(d.DMUUID)
	case has("md"):
		d.Kind = KindMD
		level, _, err := r.textIn(sd, "md/level")
		if err != nil {
			return nil, err
		}
		d.MDLevel = strings.TrimSpace(level)
	case strings.HasPrefix(name, "loop"):
		d.Kind = KindLoop
		if has("loop") {
			b, _, err := r.textIn(sd, "loop/backing_file")
			if err != nil {
				return nil, err
			}
			d.BackingFile = strings.TrimSpace(b)
		}
	default:
		d.Kind = KindDisk
		if has("device") {
			fs.readDiskDevice(r, d, sd, has("serial"), warn)
		}
	}
	return d, nil
}

// partitionParent finds a partition's disk: /sys/class/block/<part> links
// to .../block/<disk>/<part>, so the parent is the link target's
// directory. A tree without the link (hand-made, or a copy that lost its
// symlinks) has no answer; the caller falls back to the name.
func partitionParent(dir string) (string, error) {
	target, ok, err := readLink(dir)
	if err != nil || !ok {
		return "", err
	}
	parent := filepath.Base(filepath.Dir(target))
	if parent == "." || parent == "/" || parent == "block" {
		return "", nil
	}
	return parent, nil
}

// linkDevices fills what needs more than one device: partitions listed on
// their parent (guessing the parent from the name where no link said),
// partitions inheriting their disk's transport, and thin volumes
// recognised by their thin-pool slave.
func linkDevices(devs map[string]*BlockDevice, whole map[string]bool) {
	for _, d := range devs {
		if d.Kind != KindPartition {
			continue
		}
		if devs[d.Parent] == nil {
			d.Parent = guessParent(d.Name, whole)
		}
		if p := devs[d.Parent]; p != nil {
			p.Partitions = append(p.Partitions, d.Name)
		}
	}
	for _, d := range devs {
		slices.SortFunc(d.Partitions, compareNames)
		if d.Kind == KindPartition {
			if p := devs[d.Parent]; p != nil {
				d.Transport = p.Transport
			}
		}
		if d.Kind == KindDM && d.DMKind == DMKindLVM {
			for _, s := range d.Slaves {
				if sd := devs[s]; sd != nil && isThinPoolTarget(sd.DMUUID) {
					d.DMKind = DMKindThin
				}
			}
		}
	}
}

// guessParent picks the longest whole-disk name that prefixes a partition
// name: vda1 -> vda, nvme0n1p2 -> nvme0n1 (the kernel adds "p" when the
// disk name ends in a digit).
func guessParent(part string, whole map[string]bool) string {
	best := ""
	for w := range whole {
		if len(w) > len(best) && len(w) < len(part) && strings.HasPrefix(part, w) {
			best = w
		}
	}
	return best
}
