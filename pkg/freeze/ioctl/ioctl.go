// Package ioctl is the only place in ecssnap that issues FIFREEZE and FITHAW.
// It is kept tiny on purpose: the calls can hang a machine, so everything
// that decides when to make them lives elsewhere and is tested with fakes,
// while this package is tested against real loop filesystems as root.
//
// Both ioctls act on the superblock behind an open file descriptor of any
// file or directory on the filesystem, not on the descriptor or the process:
// a freezer that dies leaves the filesystem frozen, and the kernel has no
// freeze timeout.
package ioctl

import "errors"

// Typed outcomes, so that callers can tell harmless results from real
// failures with errors.Is. The underlying errno is wrapped as well.
var (
	// ErrAlreadyFrozen: FIFREEZE returned EBUSY, someone (maybe us) froze the
	// filesystem already. It must be left as it is and never thawed by a
	// caller that did not freeze it.
	ErrAlreadyFrozen = errors.New("filesystem is already frozen")
	// ErrNotSupported: the filesystem has no freeze support (EOPNOTSUPP), or
	// the descriptor does not accept the ioctl at all (ENOTTY).
	ErrNotSupported = errors.New("filesystem cannot be frozen")
	// ErrNotFrozen: FITHAW returned EINVAL, the filesystem was not frozen.
	// Repeating a thaw is therefore harmless.
	ErrNotFrozen = errors.New("filesystem is not frozen")
)
