package topology

import "slices"

// readBtrfs lists the member devices of every mounted btrfs filesystem:
// /sys/fs/btrfs/<fsid>/devices/ holds one link per member, named after the
// member's kernel name. Other entries of /sys/fs/btrfs (features/) have no
// devices/ directory and are skipped. btrfs unregisters the directory at
// unmount, so only mounted filesystems appear.
func (fs FS) readBtrfs(r *sysReader) (map[string][]string, error) {
	fsids, _, err := r.list(fs.sysPath(sysFSBtrfs))
	if err != nil {
		return nil, err
	}
	var out map[string][]string
	for _, fsid := range fsids {
		devs, ok, err := r.list(fs.sysPath(sysFSBtrfs, fsid, "devices"))
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		slices.SortFunc(devs, compareNames)
		if out == nil {
			out = make(map[string][]string)
		}
		out[fsid] = devs
	}
	return out, nil
}
