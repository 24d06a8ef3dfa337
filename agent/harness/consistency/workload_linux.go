package consistency

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// workload is a filesystem layout over data-plane disks.
type workload struct {
	name   string
	fstype string
	disks  int
	tools  []string
	mkfs   func(devs []string) []string // argv
	// volume, when set, stands between the disks and the filesystem,
	// which is made on its one device.
	volume volume
}

var workloads = map[string]workload{
	"btrfs-raid0": {name: "btrfs-raid0", fstype: "btrfs", disks: 2, tools: []string{"mkfs.btrfs", "btrfs"},
		mkfs: func(d []string) []string {
			return append([]string{"mkfs.btrfs", "-q", "-f", "-d", "raid0", "-m", "raid1"}, d...)
		}},
	"ext4": {name: "ext4", fstype: "ext4", disks: 1, tools: []string{"mkfs.ext4", "e2fsck"},
		mkfs: func(d []string) []string { return []string{"mkfs.ext4", "-q", "-F", d[0]} }},
	"xfs": {name: "xfs", fstype: "xfs", disks: 1, tools: []string{"mkfs.xfs", "xfs_repair"},
		mkfs: func(d []string) []string { return []string{"mkfs.xfs", "-q", "-f", d[0]} }},
	"lvm-striped": {name: "lvm-striped", fstype: "xfs", disks: 2, volume: lvmStriped{},
		tools: []string{"pvcreate", "vgcreate", "lvcreate", "vgchange", "vgimportclone", "mkfs.xfs", "xfs_repair"},
		mkfs:  func(d []string) []string { return []string{"mkfs.xfs", "-q", "-f", d[0]} }},
	"md-raid0": {name: "md-raid0", fstype: "ext4", disks: 2, volume: mdRAID0{},
		tools: []string{"mdadm", "mkfs.ext4", "e2fsck"},
		mkfs:  func(d []string) []string { return []string{"mkfs.ext4", "-q", "-F", d[0]} }},
}

// unavailable says why a workload cannot run on this machine ("" if it
// can). LVM and md need kernel features some machines lack (this
// project's own: no device-mapper, no md); the rows stay in the table,
// skipped with the reason.
func unavailable(name string) string {
	switch name {
	case "lvm-striped":
		if !kernelHasMisc("device-mapper") {
			return "this kernel has no device-mapper (not in /proc/misc), so no LVM"
		}
	case "md-raid0":
		if _, err := os.Stat("/proc/mdstat"); err != nil {
			return "this kernel has no md RAID (no /proc/mdstat)"
		}
	}
	for _, tool := range workloads[name].tools {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is not installed"
		}
	}
	return ""
}

func kernelHasMisc(name string) bool {
	b, err := os.ReadFile("/proc/misc")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[1] == name {
			return true
		}
	}
	return false
}

// mountFS mounts the filesystem on devs at mnt. A clone shares its
// original's IDs: xfs needs nouuid; btrfs is told its devices (its
// originals are unmounted and forgotten first, see judge).
func mountFS(wl workload, devs []string, mnt string, clone bool) error {
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return err
	}
	var opts []string
	switch wl.fstype {
	case "btrfs":
		for _, d := range devs[1:] {
			opts = append(opts, "device="+d)
		}
		if !clone {
			// Commit every second, as the reference measurement did: more
			// metadata churn while the captures happen.
			opts = append(opts, "commit=1")
		}
	case "xfs":
		if clone {
			opts = append(opts, "nouuid")
		}
	}
	if err := syscall.Mount(devs[0], mnt, wl.fstype, 0, strings.Join(opts, ",")); err != nil {
		return fmt.Errorf("mount %s (%s) on %s: %w", devs[0], wl.fstype, mnt, err)
	}
	return nil
}

// unmountWait unmounts mnt, waiting while it is busy: ecssnap's freeze
// guard may hold the mount open briefly after its job.
func unmountWait(mnt string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := syscall.Unmount(mnt, 0)
		if err == nil || errors.Is(err, syscall.EINVAL) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("unmount %s: %w", mnt, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// forgetBtrfs drops devs from the kernel's btrfs device list, so a clone
// with the same filesystem ID is assembled from its own devices only.
func forgetBtrfs(ctx context.Context, devs []string) error {
	_, err := command(ctx, "btrfs", append([]string{"device", "scan", "--forget"}, devs...)...)
	return err
}

// command runs a program and returns its combined output.
func command(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, lastLine(string(out)))
	}
	return string(out), nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
