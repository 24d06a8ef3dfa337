package hooks

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// maxLinkHops bounds symlink resolution, as the kernel's ELOOP does.
const maxLinkHops = 40

// trusted decides who may have written a path on the way to a script. A
// script runs as root, so a path is only as safe as the least trusted
// directory or link on its way: whoever can write any directory from / to
// the script, or owns a symlink on the way, chooses what root runs (a link
// planted in a hooks directory others can write ran its root-owned target
// as root). This is the check sudo, cron and OpenSSH make of their files.
type trusted struct {
	uid int // the owner scripts must have; root and uid are trusted
}

func (t trusted) owner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, false
	}
	uid := int(st.Uid)
	return uid, uid == 0 || uid == t.uid
}

// checkDir says why directory path, whose Lstat is fi, could be changed by
// someone untrusted, or "". An ancestor may be a root-owned sticky
// directory such as /tmp: others may add entries to it, but not rename or
// remove ours. The directory that holds the scripts may not.
func (t trusted) checkDir(path string, fi fs.FileInfo, holdsScripts bool) string {
	if !fi.IsDir() {
		return fmt.Sprintf("%s is not a directory", path)
	}
	uid, ok := t.owner(fi)
	if !ok {
		return fmt.Sprintf("directory %s is owned by uid %d (chown root:root)", path, uid)
	}
	if fi.Mode().Perm()&0o022 != 0 && (holdsScripts || fi.Mode()&fs.ModeSticky == 0 || uid != 0) {
		return fmt.Sprintf("directory %s is writable by group or others (chmod go-w)", path)
	}
	return ""
}

// resolve follows path from / to the end, checking every directory it
// passes through and every symlink it follows, and returns the path with
// no symlinks left in it. The last component is followed if it is a link
// but not checked: the caller knows what it must be.
func (t trusted) resolve(path string) (string, error) {
	if !filepath.IsAbs(path) {
		abs, err := filepath.Abs(path)
		if err != nil {
			return "", err
		}
		path = abs
	}
	root, err := os.Lstat("/")
	if err != nil {
		return "", err
	}
	if why := t.checkDir("/", root, false); why != "" {
		return "", errors.New(why)
	}
	cur, todo, hops := "/", splitPath(path), 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			// cur has no symlinks in it, so its parent is what the kernel
			// would reach too, and was checked on the way down.
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if uid, ok := t.owner(fi); !ok {
				return "", fmt.Errorf("symlink %s is owned by uid %d, who chooses what it runs (chown -h root:root)", next, uid)
			}
			if hops++; hops > maxLinkHops {
				return "", fmt.Errorf("%s: too many levels of symbolic links", path)
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", err
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			todo = append(splitPath(target), todo...)
			continue
		}
		if len(todo) > 0 {
			if why := t.checkDir(next, fi, false); why != "" {
				return "", errors.New(why)
			}
		}
		cur = next
	}
	return cur, nil
}

func splitPath(p string) []string { return strings.Split(p, "/") }

// checkScriptDir says why the scripts in dir must not run, or "".
func (t trusted) checkScriptDir(dir string) string {
	real, err := t.resolve(dir)
	if err != nil {
		return err.Error()
	}
	fi, err := os.Lstat(real)
	if err != nil {
		return err.Error()
	}
	return t.checkDir(real, fi, true)
}

// checkScript says why the entry at path must not run, or "": a symlink
// must be trusted, and so must the way to its target; the file that runs
// must be a regular executable that only its trusted owner can change.
func (t trusted) checkScript(path string) string {
	fi, err := os.Lstat(path)
	if err != nil {
		return err.Error()
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if uid, ok := t.owner(fi); !ok {
			return fmt.Sprintf("a symlink owned by uid %d, who chooses what it runs (chown -h root:root)", uid)
		}
		real, err := t.resolve(path)
		if errors.Is(err, fs.ErrNotExist) {
			return "dangling symlink"
		}
		if err != nil {
			return "symlink target: " + err.Error()
		}
		if fi, err = os.Lstat(real); err != nil {
			return "symlink target: " + err.Error()
		}
		if why := t.checkFile(fi); why != "" {
			return "symlink target " + real + " " + why
		}
		return ""
	}
	return t.checkFile(fi)
}

// checkFile says why a file must not run as root, or "".
func (t trusted) checkFile(fi fs.FileInfo) string {
	uid, _ := t.owner(fi)
	switch {
	case !fi.Mode().IsRegular():
		return "not a regular file"
	case fi.Mode().Perm()&0o111 == 0:
		return "not executable (chmod 0755 to enable)"
	case uid != t.uid:
		return fmt.Sprintf("not owned by uid %d (chown root:root)", t.uid)
	case fi.Mode().Perm()&0o022 != 0:
		return "writable by group or others (chmod go-w)"
	}
	return ""
}
