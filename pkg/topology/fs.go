package topology

import "path/filepath"

// The kernel paths this package reads, relative to the FS root. These are
// the only places the package names them.
const (
	defaultRoot = "/"

	dirSys  = "sys"
	dirProc = "proc"
	dirDev  = "dev"

	sysBlock      = "block"       // /sys/block: whole disks
	sysClassBlock = "class/block" // /sys/class/block: disks and partitions
	sysDevBlock   = "dev/block"   // /sys/dev/block: maj:min -> device
	sysFSBtrfs    = "fs/btrfs"    // /sys/fs/btrfs/<fsid>/devices
	procMountInfo = "self/mountinfo"
	devDiskByID   = "disk/by-id"
)

// FS reads the block topology below one root directory. The zero value is
// not useful; build one with New.
type FS struct {
	sys  string
	proc string
	dev  string
}

// New returns an FS that reads /sys, /proc and /dev below root. An empty
// root or "/" means the running system; anything else is a prefix, such as
// a fixture tree written by scripts/capture-topology.
func New(root string) FS {
	if root == "" {
		root = defaultRoot
	}
	return FS{
		sys:  filepath.Join(root, dirSys),
		proc: filepath.Join(root, dirProc),
		dev:  filepath.Join(root, dirDev),
	}
}

func (fs FS) sysPath(parts ...string) string {
	return filepath.Join(append([]string{fs.sys}, parts...)...)
}
