package hook

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// inChroot reports whether the hook runs in a chroot, the way debianutils'
// ischroot decides: the root directory differs (device and inode) from
// PID 1's. Where that cannot be read (not root: EACCES) the answer is no,
// so a snapshot is taken; a Linux root without /proc at all is a chroot
// nobody mounted /proc in.
func inChroot(root string, getenv func(string) string) (bool, string) {
	if getenv(envFakeChroot) == "true" {
		return true, "fakechroot"
	}
	here, err := os.Stat(root)
	if err != nil {
		return false, ""
	}
	initRoot, err := os.Stat(filepath.Join(root, procDir, procInit, procRootLink))
	if err != nil {
		if procfsExpected && errors.Is(err, fs.ErrNotExist) && !exists(filepath.Join(root, procDir, procSelf)) {
			return true, "no /proc mounted"
		}
		return false, ""
	}
	if !os.SameFile(here, initRoot) {
		return true, "the root directory is not PID 1's"
	}
	return false, ""
}

// cgroupMarkers in PID 1's cgroup path mean PID 1 runs in a container.
var cgroupMarkers = []string{"/docker/", "/docker-", "/lxc/", "/lxc.payload", "/kubepods", "/libpod-", "/containerd/"}

// inContainer reports whether the hook runs in a container, and which
// signal said so: the runtime's marker files, systemd's
// /run/systemd/container, the container= variable container managers
// give PID 1 (systemd-detect-virt's test), or PID 1's cgroup.
func inContainer(root string, getenv func(string) string) (bool, string) {
	if exists(filepath.Join(root, dockerEnvFile)) {
		return true, "docker"
	}
	if exists(filepath.Join(root, podmanEnvFile)) {
		return true, "podman"
	}
	if data, err := readSmall(filepath.Join(root, systemdContainer)); err == nil {
		if name := strings.TrimSpace(string(data)); name != "" {
			return true, name
		}
	}
	if v := getenv(envContainer); v != "" {
		return true, v
	}
	if data, err := readSmall(filepath.Join(root, procDir, procInit, procEnvironFile)); err == nil {
		for _, kv := range bytes.Split(data, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte(envContainer+"=")); ok && len(v) > 0 {
				return true, string(v)
			}
		}
	}
	if data, err := readSmall(filepath.Join(root, procDir, procInit, procCgroupFile)); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			for _, m := range cgroupMarkers {
				if strings.Contains(sc.Text(), m) {
					return true, "cgroup " + strings.Trim(m, "/-.")
				}
			}
		}
	}
	return false, ""
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
