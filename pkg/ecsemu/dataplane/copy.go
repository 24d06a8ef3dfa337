package dataplane

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// copyChunk is the buffer of copyExtents.
const copyChunk = 1 << 20

// copyExtents copies src's data extents into dst, which must read zeros
// (be new or truncated to zero and back); zero blocks are skipped so dst
// stays sparse.
func copyExtents(dst, src *os.File, size int64) error {
	if err := dst.Truncate(size); err != nil {
		return fmt.Errorf("size %s: %w", dst.Name(), err)
	}
	buf := make([]byte, copyChunk)
	return dataExtents(src, size, func(start, end int64) error {
		for off := start; off < end; off += copyChunk {
			b := buf[:min(copyChunk, end-off)]
			if _, err := src.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read %s: %w", src.Name(), err)
			}
			if allZero(b) {
				continue
			}
			if _, err := dst.WriteAt(b, off); err != nil {
				return fmt.Errorf("write %s: %w", dst.Name(), err)
			}
		}
		return nil
	})
}
