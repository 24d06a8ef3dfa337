//go:build !unix

package store

import (
	"errors"
	"fmt"
	"os"
)

// lockFile is not implemented without flock; a store that cannot be locked
// must not be written, so Open fails rather than pretending.
func lockFile(path string) (*os.File, error) {
	return nil, fmt.Errorf("lock %s: %w", path, errors.ErrUnsupported)
}
