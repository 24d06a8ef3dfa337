// Package replacefile replaces a file's content whole: a reader sees the
// old content or the new, never a part. It does not fsync, so it suits
// files whose loss after a power cut costs only work (caches, metrics);
// the job store's records, which must survive one, are written durably by
// the store itself.
package replacefile

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with what write writes, through a temporary file in
// the same directory (a dot file named after path) and a rename; the file
// gets perm. On error path is unchanged and the temporary file is gone.
func Write(path string, perm fs.FileMode, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	err = write(tmp)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Bytes is Write of data.
func Bytes(path string, perm fs.FileMode, data []byte) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
