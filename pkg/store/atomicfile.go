package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// tempPrefix starts every temporary file name. The leading dot keeps temp
// files out of the record namespace (IDs never start with a dot), so a crash
// between create and rename leaves something Open recognises and removes.
const tempPrefix = ".tmp-"

func isTempName(name string) bool { return strings.HasPrefix(name, tempPrefix) }

// writeFileAtomic replaces dir/name with data so that after a crash the file
// holds either the old or the new content, never a mix, and the new content
// survives a power loss once it returns: temp file in the same directory,
// fsync, rename over the target, fsync the directory that holds the rename.
func writeFileAtomic(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, tempPrefix+name+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	// CreateTemp makes the file 0600, which is what records need: they hold
	// the caller's command line.
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return syncDir(dir)
}

// syncDir makes renames and removals in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
