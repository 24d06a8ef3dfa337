package topology

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

const (
	// maxAttrSize bounds a sysfs attribute read. sysfs reports every
	// attribute as 4096 bytes long whatever it holds, so the reported size
	// is useless; the attributes read here are a few dozen bytes, and
	// anything longer than a page is not what we think it is.
	maxAttrSize = 4096

	// maxProcFileSize bounds /proc/self/mountinfo, which reports size 0.
	// A machine with a hundred thousand mounts stays well below it.
	maxProcFileSize = 64 << 20
)

// isAbsent reports whether err means "the attribute is not there" rather
// than "reading it failed". Permission errors count as absence: some
// attributes (SCSI VPD pages on older kernels, for one) are root-only, and
// an unprivileged `ecssnap disks` should show what it can. ENODEV and ENXIO
// come back when a device disappears between listing and reading.
func isAbsent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) ||
		errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, syscall.ENODEV) ||
		errors.Is(err, syscall.ENXIO)
}

// sysReader reads sysfs with plain system calls and buffers reused across
// reads. Discover opens a few thousand tiny files; an os.File per open
// (poller registration, finalizer, a fresh buffer) cost more than the
// reads themselves, and so did walking the long symlinked path of a
// device for every attribute, which is why attributes are opened relative
// to their open device directory (see sysDir). It is not safe for
// concurrent use.
type sysReader struct {
	buf    [maxAttrSize + 1]byte
	dirbuf [8192]byte
}

// sysDir is an open directory; attributes are opened relative to it.
type sysDir struct {
	fd   int
	path string // for messages, and where openat is unavailable
}

// cwd is the directory full paths are relative to: attr(p) and list(p)
// take full paths.
func cwd() sysDir { return sysDir{fd: atFDCWD} }

func (d sysDir) join(rel string) string { return filepath.Join(d.path, rel) }

// openDir opens a directory. ok is false when it is absent.
func (r *sysReader) openDir(path string) (sysDir, bool, error) {
	fd, err := retryEINTR(func() (int, error) { return openAt(cwd(), path, syscall.O_RDONLY|syscall.O_DIRECTORY) })
	if err != nil {
		if isAbsent(err) || errors.Is(err, syscall.ENOTDIR) {
			return sysDir{}, false, nil
		}
		return sysDir{}, false, fmt.Errorf("open %s: %w", path, err)
	}
	return sysDir{fd: fd, path: path}, true, nil
}

func (d sysDir) close() { syscall.Close(d.fd) }

// attrIn reads at most maxAttrSize bytes of the sysfs attribute rel below
// d. ok is false when the attribute is absent (see isAbsent). The result
// is valid until the next call. One read suffices: kernfs returns an
// attribute whole on the first read, and a regular file (a fixture)
// returns everything asked for short of its end.
func (r *sysReader) attrIn(d sysDir, rel string) (data []byte, ok bool, err error) {
	fd, err := retryEINTR(func() (int, error) { return openAt(d, rel, syscall.O_RDONLY) })
	if err != nil {
		if isAbsent(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("open %s: %w", d.join(rel), err)
	}
	defer syscall.Close(fd)
	n, err := retryEINTR(func() (int, error) { return syscall.Read(fd, r.buf[:]) })
	switch {
	case err != nil && isAbsent(err):
		// Some attributes open fine and fail on read (a device going away,
		// a root-only show method).
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("read %s: %w", d.join(rel), err)
	case n > maxAttrSize:
		return nil, false, fmt.Errorf("read %s: longer than %d bytes", d.join(rel), maxAttrSize)
	}
	return r.buf[:n], true, nil
}

// textIn is attrIn for text attributes.
func (r *sysReader) textIn(d sysDir, rel string) (string, bool, error) {
	b, ok, err := r.attrIn(d, rel)
	return string(b), ok, err
}

// attr, text and list take a full path.
func (r *sysReader) attr(path string) ([]byte, bool, error)   { return r.attrIn(cwd(), path) }
func (r *sysReader) text(path string) (string, bool, error)   { return r.textIn(cwd(), path) }
func (r *sysReader) list(path string) ([]string, bool, error) { return r.listIn(cwd(), path) }

// listIn returns the names in directory rel below d, unsorted. ok is
// false when the directory is absent or not a directory.
func (r *sysReader) listIn(d sysDir, rel string) ([]string, bool, error) {
	fd, err := retryEINTR(func() (int, error) { return openAt(d, rel, syscall.O_RDONLY|syscall.O_DIRECTORY) })
	if err != nil {
		if isAbsent(err) || errors.Is(err, syscall.ENOTDIR) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("open %s: %w", d.join(rel), err)
	}
	defer syscall.Close(fd)
	names, err := r.names(sysDir{fd: fd, path: d.join(rel)})
	if err != nil {
		if isAbsent(err) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return names, true, nil
}

// names lists an open directory (once: it consumes the directory offset).
func (r *sysReader) names(d sysDir) ([]string, error) {
	names := []string{}
	for {
		n, err := retryEINTR(func() (int, error) { return syscall.ReadDirent(d.fd, r.dirbuf[:]) })
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", d.path, err)
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = syscall.ParseDirent(r.dirbuf[:n], -1, names)
	}
}

func retryEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if !errors.Is(err, syscall.EINTR) {
			return n, err
		}
	}
}

// readLink returns a symlink's target. ok is false when path is absent or
// not a symlink.
func readLink(path string) (string, bool, error) {
	target, err := os.Readlink(path)
	if err != nil {
		if isAbsent(err) || errors.Is(err, syscall.EINVAL) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("readlink %s: %w", path, err)
	}
	return target, true, nil
}

// readProcFile reads a procfs file whole, up to maxProcFileSize. procfs
// reports size 0 and returns seq_file pages one read at a time, so this
// reads to the end.
func readProcFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxProcFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxProcFileSize {
		return nil, fmt.Errorf("read %s: longer than %d bytes", path, maxProcFileSize)
	}
	return data, nil
}
