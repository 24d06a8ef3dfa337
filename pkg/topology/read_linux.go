package topology

import "syscall"

// atFDCWD is AT_FDCWD: openat relative to the working directory, which
// for an absolute path means no directory at all.
const atFDCWD = -0x64

// openAt opens rel relative to the open directory d with openat(2), so
// the kernel does not walk d's path (often through symlinks) again.
func openAt(d sysDir, rel string, flags int) (int, error) {
	return syscall.Openat(d.fd, rel, flags|syscall.O_CLOEXEC, 0)
}
