//go:build !linux

package topology

import (
	"path/filepath"
	"syscall"
)

// atFDCWD marks a sysDir without a descriptor; see read_linux.go.
const atFDCWD = -1

// openAt opens rel below d by its full path: the syscall package offers
// no openat outside Linux, and fixture trees are all these platforms read.
func openAt(d sysDir, rel string, flags int) (int, error) {
	return syscall.Open(filepath.Join(d.path, rel), flags|syscall.O_CLOEXEC, 0)
}
