package dataplane

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// errCanceled ends the copy of a snapshot deleted before it was complete.
var errCanceled = errors.New("snapshot deleted before its copy finished")

// epoch copies one disk as it was at one instant into a snapshot file: a
// chunk is copied before a write overwrites it (preserve), and a
// background pass copies every chunk nobody wrote. Chunks that were holes
// at the instant stay holes in the snapshot.
type epoch struct {
	src   *os.File // the live image
	dst   *os.File // the snapshot file, sparse, of the disk's size
	chunk int64
	size  int64

	mu       sync.Mutex
	copied   bitmap
	buf      []byte
	canceled bool
}

func newEpoch(src, dst *os.File, size, chunk int64) *epoch {
	return &epoch{src: src, dst: dst, size: size, chunk: chunk, copied: newBitmap(chunks(size, chunk)), buf: make([]byte, chunk)}
}

// chunks is how many chunks of chunk bytes cover size bytes.
func chunks(size, chunk int64) int64 { return (size + chunk - 1) / chunk }

// preserve copies the chunks of [off, off+n) not yet copied: called before
// the live image changes there.
func (e *epoch) preserve(off, n int64) error {
	if n <= 0 {
		return nil
	}
	first, last := off/e.chunk, min(off+n-1, e.size-1)/e.chunk
	e.mu.Lock()
	defer e.mu.Unlock()
	for c := first; c <= last; c++ {
		if err := e.copyLocked(c); err != nil {
			return err
		}
	}
	return nil
}

// copyLocked copies chunk c unless it is already copied. An all-zero
// chunk is not written, so the snapshot stays as sparse as the disk.
func (e *epoch) copyLocked(c int64) error {
	if e.canceled {
		return errCanceled
	}
	if e.copied.get(c) {
		return nil
	}
	off := c * e.chunk
	n := min(e.chunk, e.size-off)
	buf := e.buf[:n]
	if _, err := e.src.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read chunk %d of %s: %w", c, e.src.Name(), err)
	}
	if !allZero(buf) {
		if _, err := e.dst.WriteAt(buf, off); err != nil {
			return fmt.Errorf("write chunk %d of %s: %w", c, e.dst.Name(), err)
		}
	}
	e.copied.set(c)
	return nil
}

// run copies every chunk that holds data in the live image and was not
// copied yet. Holes need nothing: the snapshot file reads zeros there, and
// a hole written after the instant was preserved (as zeros) by its writer.
func (e *epoch) run() error {
	return dataExtents(e.src, e.size, func(start, end int64) error {
		for c := start / e.chunk; c*e.chunk < end; c++ {
			e.mu.Lock()
			err := e.copyLocked(c)
			e.mu.Unlock()
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// cancel stops the copy; later preserves and the background pass return
// errCanceled, which the writer path ignores.
func (e *epoch) cancel() {
	e.mu.Lock()
	e.canceled = true
	e.mu.Unlock()
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
