package loopfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ecssnap/ecssnap/pkg/freeze/ioctl"
	"github.com/ecssnap/ecssnap/pkg/topology"
)

// FS is a filesystem on one or more loop devices, mounted below Dir.
type FS struct {
	Type       string
	Dir        string   // the scratch directory everything lives in
	MountPoint string   // inside Dir
	Devices    []string // /dev/loopN, first one is the mount source
	Dev        string   // major:minor of the superblock, from mountinfo
	images     []string
}

// Options shape a filesystem. Zero values pick sizes each mkfs accepts.
type Options struct {
	Devices    int    // number of loop devices (btrfs may span several)
	Size       int64  // bytes per device image (sparse)
	MountPoint string // "" means Dir/<type>; must lie inside Dir
}

// minSize is what each mkfs accepts without complaint; xfsprogs refuses
// filesystems under 300 MB.
var minSize = map[string]int64{"ext4": 64 << 20, "ext2": 64 << 20, "xfs": 320 << 20, "btrfs": 256 << 20, "vfat": 64 << 20}

// Available reports why fstype cannot be created here, or nil: the kernel
// must list it in /proc/filesystems and its mkfs must be installed.
func Available(fstype string) error {
	data, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return fmt.Errorf("read /proc/filesystems: %w", err)
	}
	found := false
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[len(f)-1] == fstype {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("this kernel has no %s support", fstype)
	}
	if _, err := exec.LookPath("mkfs." + fstype); err != nil {
		return fmt.Errorf("mkfs.%s is not installed", fstype)
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		return errors.New("losetup is not installed")
	}
	return nil
}

// Create makes and mounts a filesystem of type fstype in dir, a scratch
// directory the caller owns. On error everything made so far is undone.
func Create(ctx context.Context, fstype, dir string, opts Options) (_ *FS, err error) {
	if opts.Devices <= 0 {
		opts.Devices = 1
	}
	if opts.Size <= 0 {
		opts.Size = max(minSize[fstype], 64<<20)
	}
	if opts.MountPoint == "" {
		opts.MountPoint = filepath.Join(dir, fstype)
	}
	fs := &FS{Type: fstype, Dir: dir, MountPoint: opts.MountPoint}
	defer func() {
		if err != nil {
			err = errors.Join(err, fs.Destroy())
		}
	}()
	if !within(fs.MountPoint, dir) {
		return nil, fmt.Errorf("mount point %s is outside %s", fs.MountPoint, dir)
	}
	for k := range opts.Devices {
		img := filepath.Join(dir, fmt.Sprintf("%s-%d-%d.img", fstype, time.Now().UnixNano(), k))
		if err := makeImage(img, opts.Size); err != nil {
			return nil, err
		}
		fs.images = append(fs.images, img)
		dev, err := attach(ctx, img)
		if err != nil {
			return nil, err
		}
		fs.Devices = append(fs.Devices, dev)
	}
	if err := mkfs(ctx, fstype, fs.Devices); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(fs.MountPoint, 0o755); err != nil {
		return nil, fmt.Errorf("create mount point: %w", err)
	}
	data := ""
	if fstype == "btrfs" && len(fs.Devices) > 1 {
		// Without udev nobody scans the other members; name them.
		var parts []string
		for _, d := range fs.Devices[1:] {
			parts = append(parts, "device="+d)
		}
		data = strings.Join(parts, ",")
	}
	if err := syscall.Mount(fs.Devices[0], fs.MountPoint, fstype, 0, data); err != nil {
		return nil, fmt.Errorf("mount %s on %s: %w", fs.Devices[0], fs.MountPoint, err)
	}
	m, err := lookup(fs.MountPoint)
	if err != nil {
		_ = syscall.Unmount(fs.MountPoint, syscall.MNT_DETACH)
		return nil, err
	}
	fs.Dev = m.Dev
	return fs, fs.CheckOwned()
}

func makeImage(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create image: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("size image: %w", err)
	}
	return nil
}

// attach binds img to a free loop device. Other processes take loop devices
// concurrently, so "losetup -f" can lose a race; it is retried.
func attach(ctx context.Context, img string) (string, error) {
	var lastErr error
	for range 5 {
		out, err := run(ctx, "losetup", "-f", "--show", img)
		if err == nil {
			dev := strings.TrimSpace(out)
			if !strings.HasPrefix(dev, "/dev/loop") {
				return "", fmt.Errorf("losetup printed %q", dev)
			}
			return dev, nil
		}
		lastErr = err
	}
	return "", lastErr
}

func mkfs(ctx context.Context, fstype string, devs []string) error {
	var args []string
	switch fstype {
	case "ext4", "ext2":
		args = []string{"-q", "-F"}
	case "xfs":
		args = []string{"-q", "-f"}
	case "btrfs":
		args = []string{"-q", "-f"}
		if len(devs) > 1 {
			args = append(args, "-d", "single", "-m", "raid1")
		}
	}
	if len(devs) > 1 && fstype != "btrfs" {
		return fmt.Errorf("%s cannot span %d devices", fstype, len(devs))
	}
	_, err := run(ctx, "mkfs."+fstype, append(args, devs...)...)
	return err
}

func run(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// CheckOwned verifies, from the kernel's view, that fs is what it claims:
// the topmost mount at MountPoint comes from one of our loop devices and
// has our device number, lies inside our scratch directory, and is neither
// the root filesystem nor the one holding the working directory. Call it
// right before anything is frozen.
func (fs *FS) CheckOwned() error {
	if !within(fs.MountPoint, fs.Dir) {
		return fmt.Errorf("refusing to freeze %s: outside %s", fs.MountPoint, fs.Dir)
	}
	m, err := lookup(fs.MountPoint)
	if err != nil {
		return fmt.Errorf("refusing to freeze %s: %w", fs.MountPoint, err)
	}
	if !slices.Contains(fs.Devices, m.Source) || m.Dev != fs.Dev || m.FSType != fs.Type {
		return fmt.Errorf("refusing to freeze %s: mounted from %s (%s %s), not our %v", fs.MountPoint, m.Source, m.FSType, m.Dev, fs.Devices)
	}
	var mine, other syscall.Stat_t
	if err := syscall.Stat(fs.MountPoint, &mine); err != nil {
		return fmt.Errorf("refusing to freeze %s: %w", fs.MountPoint, err)
	}
	wd, _ := os.Getwd()
	for _, p := range []string{"/", wd, fs.Dir, os.TempDir()} {
		if p == "" {
			continue
		}
		if err := syscall.Stat(p, &other); err != nil {
			return fmt.Errorf("refusing to freeze %s: stat %s: %w", fs.MountPoint, p, err)
		}
		if other.Dev == mine.Dev {
			return fmt.Errorf("refusing to freeze %s: same filesystem as %s", fs.MountPoint, p)
		}
	}
	return nil
}

// lookup returns the topmost mount at mp. Malformed mountinfo is an error:
// a safety check must not skip what it cannot read.
func lookup(mp string) (topology.Mount, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return topology.Mount{}, fmt.Errorf("read mountinfo: %w", err)
	}
	ms, err := topology.ParseMountInfo(data)
	if err != nil {
		return topology.Mount{}, err
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].MountPoint == mp {
			return ms[i], nil
		}
	}
	return topology.Mount{}, fmt.Errorf("%s is not a mount point", mp)
}

// Destroy thaws (in case a test left it frozen), unmounts, detaches and
// removes everything. It is safe on a partly created FS and bounded: an
// unmount that stays busy (a helper still holding the mount) falls back to
// a lazy unmount, and a busy loop device is released by the kernel later.
func (fs *FS) Destroy() error {
	var errs []error
	if fs.Dev != "" {
		if m, err := lookup(fs.MountPoint); err == nil && m.Dev == fs.Dev {
			if fd, err := syscall.Open(fs.MountPoint, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0); err == nil {
				_ = ioctl.Thaw(fd) // ErrNotFrozen is the normal answer
				syscall.Close(fd)
			}
			errs = append(errs, unmount(fs.MountPoint))
		}
	}
	for _, d := range fs.Devices {
		if _, err := run(context.Background(), "losetup", "-d", d); err != nil {
			errs = append(errs, err)
		}
	}
	for _, img := range fs.images {
		if err := os.Remove(img); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func unmount(mp string) error {
	var err error
	for range 20 {
		if err = syscall.Unmount(mp, 0); err == nil || !errors.Is(err, syscall.EBUSY) {
			break
		}
		time.Sleep(50 * time.Millisecond) // a helper or guard is closing its fds
	}
	if errors.Is(err, syscall.EBUSY) {
		err = syscall.Unmount(mp, syscall.MNT_DETACH)
	}
	if err != nil {
		return fmt.Errorf("unmount %s: %w", mp, err)
	}
	return nil
}
