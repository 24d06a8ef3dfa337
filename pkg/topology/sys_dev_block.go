package topology

import "path/filepath"

// deviceByNumber names the block device with number dev ("maj:min") via
// /sys/dev/block/<dev>, a link to the device's sysfs directory whose base
// name is the kernel name. ok is false when no such device exists.
func (fs FS) deviceByNumber(dev string) (name string, ok bool, err error) {
	target, ok, err := readLink(fs.sysPath(sysDevBlock, dev))
	if err != nil || !ok {
		return "", false, err
	}
	return filepath.Base(target), true, nil
}
