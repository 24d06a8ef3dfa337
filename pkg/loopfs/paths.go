package loopfs

import (
	"path/filepath"
	"strings"
)

// within reports whether p lies strictly inside the absolute directory dir.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..") && filepath.IsAbs(dir)
}
