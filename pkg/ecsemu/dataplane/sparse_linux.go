package dataplane

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// dataExtents calls fn for each range of f below size that holds data
// (SEEK_DATA/SEEK_HOLE), so a sparse image is copied in time proportional
// to what it holds, not to its size.
func dataExtents(f *os.File, size int64, fn func(start, end int64) error) error {
	fd := int(f.Fd())
	off := int64(0)
	for off < size {
		start, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			return nil // no data past off
		}
		if err != nil {
			return fmt.Errorf("seek data in %s: %w", f.Name(), err)
		}
		if start >= size {
			return nil
		}
		end, err := unix.Seek(fd, start, unix.SEEK_HOLE)
		if err != nil {
			return fmt.Errorf("seek hole in %s: %w", f.Name(), err)
		}
		end = min(end, size)
		if err := fn(start, end); err != nil {
			return err
		}
		off = end
	}
	return nil
}

// punchHole deallocates [off, off+n) of f, keeping its size: what a
// discard on the loop device asks for.
func punchHole(f *os.File, off, n int64) error {
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}

// cloneFile makes dst's contents dst equal src's by a reflink where the
// store can (XFS, btrfs), else by copying the data extents.
func cloneFile(dst, src *os.File, size int64) error {
	if err := unix.IoctlFileClone(int(dst.Fd()), int(src.Fd())); err == nil {
		return nil
	}
	return copyExtents(dst, src, size)
}
