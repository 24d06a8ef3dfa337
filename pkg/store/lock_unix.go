//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive flock on path without waiting. flock rather
// than fcntl locks: an fcntl lock is per process and dropped when any of its
// descriptors for the file closes, while flock belongs to the open file and
// so also keeps two Stores of one process apart. The kernel drops it when the
// holder dies, so a crashed daemon never leaves the store locked.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &LockedError{Path: path, PID: holderPID(path)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// The PID is only for the error message of whoever comes next; the lock
	// itself is the flock, so a failure to record it is not an error.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// holderPID reads the PID the lock holder wrote, or 0 when unknown.
func holderPID(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0
	}
	return pid
}
