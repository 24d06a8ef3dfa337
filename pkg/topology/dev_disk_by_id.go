package topology

import (
	"path/filepath"
	"slices"
)

// readDiskByID maps device names to the /dev/disk/by-id links udev made
// for them (virtio-<serial>, nvme-Alibaba_Cloud_Elastic_Block_Storage_<serial>,
// dm-name-..., ...). The links are relative ("../../vdb"), so the target's
// base name is the kernel name. Machines without udev have no such
// directory; that is an empty map, not an error.
func (fs FS) readDiskByID(r *sysReader) (map[string][]string, error) {
	dir := filepath.Join(fs.dev, devDiskByID)
	links, _, err := r.list(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string)
	for _, l := range links {
		target, ok, err := readLink(filepath.Join(dir, l))
		if err != nil {
			return nil, err
		}
		if ok {
			name := filepath.Base(target)
			out[name] = append(out[name], l)
		}
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out, nil
}
