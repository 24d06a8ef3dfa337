package ioctl

import (
	"fmt"
	"syscall"
)

// Request numbers from linux/fs.h: _IOWR('X', 119, int) and _IOWR('X', 120,
// int). golang.org/x/sys does not define them.
const (
	fiFreeze = 0xC0045877
	fiThaw   = 0xC0045878
)

// Freeze issues FIFREEZE on fd. It blocks until the kernel has drained all
// writers and synced the filesystem, which can take long: run it where a
// hang cannot stop a deadline from firing.
func Freeze(fd int) error {
	switch err := call(fd, fiFreeze); err {
	case nil:
		return nil
	case syscall.EBUSY:
		return fmt.Errorf("FIFREEZE: %w: %w", ErrAlreadyFrozen, err)
	case syscall.EOPNOTSUPP, syscall.ENOTTY:
		return fmt.Errorf("FIFREEZE: %w: %w", ErrNotSupported, err)
	default:
		return fmt.Errorf("FIFREEZE: %w", err)
	}
}

// Thaw issues FITHAW on fd. Thawing a filesystem that is not frozen returns
// ErrNotFrozen, which callers may treat as success.
func Thaw(fd int) error {
	switch err := call(fd, fiThaw); err {
	case nil:
		return nil
	case syscall.EINVAL:
		return fmt.Errorf("FITHAW: %w: %w", ErrNotFrozen, err)
	case syscall.EOPNOTSUPP, syscall.ENOTTY:
		return fmt.Errorf("FITHAW: %w: %w", ErrNotSupported, err)
	default:
		return fmt.Errorf("FITHAW: %w", err)
	}
}

// call uses syscall.Syscall, not RawSyscall, so that the Go scheduler hands
// this thread's processor to other goroutines while the ioctl blocks: a
// timer in the same process keeps running during a hung FIFREEZE.
func call(fd int, req uintptr) error {
	for {
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, 0)
		switch errno {
		case 0:
			return nil
		case syscall.EINTR:
			continue
		default:
			return errno
		}
	}
}
