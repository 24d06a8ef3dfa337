package restore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ecssnap/ecssnap/pkg/topology"
)

// LinuxGuest finds clones by serial through sysfs and builds the job's
// filesystems from them with the kernel's mount(2), never touching the
// originals: clones carry the originals' filesystem IDs (reference
// restore.md §4, dataplane.md "Mounting clones"), so
//   - ext4 mounts as is (its journal replays on the clone);
//   - xfs mounts with nouuid (log recovery runs on the clone);
//   - single-device btrfs mounts by temp-fsid (kernel 6.7 and later);
//   - multi-device btrfs gets a new fsid first, by btrfstune -M run where
//     only the clone devices are visible (a private mount namespace with a
//     private /dev): run with the originals in sight, btrfstune rewrote an
//     original's superblock. That needs the clone's log tree empty, which a
//     job that froze the filesystem guarantees;
//   - LVM is refused for now (vgimportclone is not wired in).
//
// Every mount is read-only, nodev, nosuid, noexec, at the original's mount
// path below the restore root.
type LinuxGuest struct {
	// Root is the prefix for /sys, /proc and /dev reads (ECSSNAP_ROOT).
	Root string
	// DevDir holds the device nodes mount(2) is given (default /dev).
	DevDir string
	// DeviceMap, when set, maps a disk ID to its device before serials are
	// looked at: the test seam for loop devices, which have no serial.
	DeviceMap func(diskID string) (string, bool)
	Logger    *slog.Logger
}

func (g *LinuxGuest) devPath(name string) string {
	return filepath.Join(cmpOr(g.DevDir, "/dev"), name)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (g *LinuxGuest) log() *slog.Logger {
	if g.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return g.Logger
}

// Device finds the whole disk whose serial is serial.
func (g *LinuxGuest) Device(diskID, serial string) (string, error) {
	if g.DeviceMap != nil {
		if dev, ok := g.DeviceMap(diskID); ok {
			return dev, nil
		}
	}
	if serial == "" {
		return "", fmt.Errorf("disk %s has no serial number; it cannot be told apart from the others safely", diskID)
	}
	topo, err := topology.New(g.Root).Discover()
	if err != nil {
		return "", err
	}
	for _, d := range topo.Disks() {
		if d.Serial != "" && strings.EqualFold(d.Serial, serial) {
			return d.Name, nil
		}
	}
	return "", nil
}

// Host sysfs paths that name the kernel's own devices. The reads behind
// Root may be a guest view (the emulator's data plane shows loop devices
// as virtio disks vdX); mount(2), blkid and btrfstune need the kernel's
// device, found by its device number.
const (
	hostSysDevBlock   = "/sys/dev/block"
	hostSysClassBlock = "/sys/class/block"
)

// kernelName returns the kernel's name of the device the topology (maybe
// a guest view) calls name: the same on a real instance, the loop device
// behind a guest view's vdX.
func (g *LinuxGuest) kernelName(topo *topology.Topology, name string) string {
	d := topo.Devices[name]
	if d == nil || d.Dev == "" {
		return name
	}
	target, err := os.Readlink(filepath.Join(hostSysDevBlock, d.Dev))
	if err != nil {
		return name
	}
	return filepath.Base(target)
}

// fsProbe is what blkid says of one block device.
type fsProbe struct {
	dev, typ, uuid string
	clone          Clone
}

// probe runs blkid's low-level probe (no cache: the cache may hold the
// original's entry under the same UUID).
func (g *LinuxGuest) probe(ctx context.Context, dev string) (map[string]string, error) {
	out, err := exec.CommandContext(ctx, "blkid", "-p", "-o", "export", g.devPath(dev)).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 2 {
		return map[string]string{}, nil // nothing recognised
	}
	if err != nil {
		return nil, fmt.Errorf("blkid %s: %w", dev, err)
	}
	return parseBlkidExport(out), nil
}

// fsGroup is one filesystem found on the clones (several devices for a
// multi-device btrfs).
type fsGroup struct {
	typ, uuid string
	devs      []string
	clones    []Clone
}

// Mount builds and mounts the filesystems found on the clones.
func (g *LinuxGuest) Mount(ctx context.Context, clones []Clone, root string) ([]MountPoint, error) {
	topo, err := topology.New(g.Root).Discover()
	if err != nil {
		return nil, err
	}
	cloneDevs := map[string]bool{}
	var probes []fsProbe
	for _, cl := range clones {
		devs := []string{cl.Device}
		if d := topo.Devices[cl.Device]; d != nil && len(d.Partitions) > 0 {
			devs = d.Partitions
		}
		for _, viewDev := range devs {
			dev := g.kernelName(topo, viewDev)
			cloneDevs[dev] = true
			p, err := g.probe(ctx, dev)
			if err != nil {
				return nil, err
			}
			switch p["TYPE"] {
			case "":
				continue
			case "LVM2_member":
				return nil, fmt.Errorf("%s (from %s) holds LVM: mounting LVM clones is not supported yet (they need vgimportclone)", dev, cl.SourceDiskID)
			case "crypto_LUKS":
				return nil, fmt.Errorf("%s (from %s) is encrypted (LUKS): mounting it is not supported", dev, cl.SourceDiskID)
			case "swap":
				continue
			}
			probes = append(probes, fsProbe{dev: dev, typ: p["TYPE"], uuid: p["UUID"], clone: cl})
		}
	}
	var groups []*fsGroup
	for _, p := range probes {
		i := slices.IndexFunc(groups, func(gr *fsGroup) bool { return gr.typ == p.typ && gr.uuid == p.uuid && p.uuid != "" })
		if i < 0 {
			groups = append(groups, &fsGroup{typ: p.typ, uuid: p.uuid})
			i = len(groups) - 1
		}
		groups[i].devs = append(groups[i].devs, p.dev)
		groups[i].clones = append(groups[i].clones, p.clone)
	}
	if len(groups) == 0 {
		return nil, errors.New("no filesystem found on the restored disks")
	}
	originals := g.originals(ctx, topo, root, cloneDevs)
	type plan struct {
		group  *fsGroup
		target string
		orig   string
		subvol string
	}
	var plans []plan
	for _, gr := range groups {
		mounts := originals[gr.typ+"\x00"+gr.uuid]
		if len(mounts) == 0 {
			// Not mounted now: under the disk's name.
			name := gr.clones[0].SourceDiskID
			if gr.devs[0] != gr.clones[0].Device {
				name += "-" + gr.devs[0]
			}
			plans = append(plans, plan{group: gr, target: filepath.Join(root, name)})
			continue
		}
		for _, m := range mounts {
			p := plan{group: gr, target: filepath.Join(root, m.MountPoint), orig: m.MountPoint}
			if gr.typ == "btrfs" && m.Root != "/" {
				p.subvol = m.Root
			}
			plans = append(plans, p)
		}
	}
	// Parents before children: /data is mounted inside the clone of /.
	sort.SliceStable(plans, func(a, b int) bool { return depth(plans[a].target) < depth(plans[b].target) })
	var done []MountPoint
	retuned := map[*fsGroup]bool{}
	for _, p := range plans {
		gr := p.group
		if gr.typ == "btrfs" && len(gr.devs) > 1 && !retuned[gr] {
			if err := g.newBtrfsFsid(ctx, gr.devs); err != nil {
				return done, err
			}
			retuned[gr] = true
		}
		data := mountData(gr, p.subvol, g.devPath)
		if err := os.MkdirAll(p.target, 0o700); err != nil {
			return done, fmt.Errorf("make mount point %s: %w", p.target, err)
		}
		flags := uintptr(unix.MS_RDONLY | unix.MS_NODEV | unix.MS_NOSUID | unix.MS_NOEXEC)
		if err := unix.Mount(g.devPath(gr.devs[0]), p.target, gr.typ, flags, data); err != nil {
			return done, fmt.Errorf("mount %s (%s, from %s) at %s: %w", gr.devs[0], gr.typ, gr.clones[0].SourceDiskID, p.target, err)
		}
		opts := "ro,nodev,nosuid,noexec"
		if data != "" {
			opts += "," + data
		}
		var disks []string
		for _, cl := range gr.clones {
			if d := cl.DiskID + " (from " + cl.SourceDiskID + ")"; !slices.Contains(disks, d) {
				disks = append(disks, d)
			}
		}
		done = append(done, MountPoint{Target: p.target, Original: p.orig, FSType: gr.typ, Devices: slices.Clone(gr.devs), Disks: disks, Options: opts})
		g.log().Info("mounted a restored filesystem", "target", p.target, "fstype", gr.typ, "devices", gr.devs)
	}
	return done, nil
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

// mountData is the filesystem-specific mount data.
func mountData(gr *fsGroup, subvol string, devPath func(string) string) string {
	var opts []string
	switch gr.typ {
	case "xfs":
		// The clone has the original's UUID; XFS refuses a second mount
		// of a UUID without this.
		opts = append(opts, "nouuid")
	case "btrfs":
		for _, d := range gr.devs {
			opts = append(opts, "device="+devPath(d))
		}
		if subvol != "" {
			opts = append(opts, "subvol="+subvol)
		}
	}
	return strings.Join(opts, ",")
}

// originals maps "type\0uuid" to the mounts of the original filesystems,
// leaving out the clones and anything under the restore root.
func (g *LinuxGuest) originals(ctx context.Context, topo *topology.Topology, root string, clones map[string]bool) map[string][]topology.Mount {
	out := map[string][]topology.Mount{}
	seen := map[string]bool{}
	for _, m := range topo.Mounts {
		if !strings.HasPrefix(m.Source, "/dev/") || within(m.MountPoint, root) {
			continue
		}
		dev := strings.TrimPrefix(m.Source, "/dev/")
		if clones[dev] {
			continue
		}
		p, err := g.probe(ctx, dev)
		if err != nil || p["UUID"] == "" {
			continue
		}
		key := p["TYPE"] + "\x00" + p["UUID"]
		// One mount per filesystem root (btrfs: per subvolume).
		if seen[key+"\x00"+m.Root] {
			continue
		}
		if m.Root != "/" && p["TYPE"] != "btrfs" {
			continue // a bind mount of a directory
		}
		seen[key+"\x00"+m.Root] = true
		out[key] = append(out[key], m)
	}
	return out
}

func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// btrfsLogRoot reads a device's superblock log_root: non-zero means a log
// tree that only a mount can replay.
func btrfsLogRoot(ctx context.Context, dev string) (string, error) {
	out, err := exec.CommandContext(ctx, "btrfs", "inspect-internal", "dump-super", dev).Output()
	if err != nil {
		return "", fmt.Errorf("btrfs inspect-internal dump-super %s: %w", dev, err)
	}
	if lr, ok := parseLogRoot(out); ok {
		return lr, nil
	}
	return "", fmt.Errorf("btrfs inspect-internal dump-super %s: no log_root", dev)
}

// newBtrfsFsid gives the clones of a multi-device btrfs a new fsid
// (metadata_uuid: superblocks only), with nothing but the clones in sight.
func (g *LinuxGuest) newBtrfsFsid(ctx context.Context, devs []string) error {
	for _, d := range devs {
		lr, err := btrfsLogRoot(ctx, g.devPath(d))
		if err != nil {
			return err
		}
		if lr != "0" {
			return fmt.Errorf("the btrfs on %s has a log tree to replay (a crash-consistent snapshot): it cannot be mounted beside its mounted original; roll back instead, or take jobs at fs consistency", strings.Join(devs, ", "))
		}
	}
	var script strings.Builder
	script.WriteString("set -e\nmount -t tmpfs -o mode=0755,size=64k ecssnap-dev /dev\n")
	for i, d := range devs {
		num, err := os.ReadFile(filepath.Join(hostSysClassBlock, d, "dev"))
		if err != nil {
			return fmt.Errorf("device %s: %w", d, err)
		}
		maj, min, _ := strings.Cut(strings.TrimSpace(string(num)), ":")
		fmt.Fprintf(&script, "mknod /dev/c%d b %s %s\n", i, maj, min)
	}
	fmt.Fprintf(&script, "exec btrfstune -f -M %s /dev/c0\n", newUUID())
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("give the btrfs clones a new fsid: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Unmount unmounts children before parents, then makes the kernel forget
// the btrfs clone devices and removes the empty mount points.
func (g *LinuxGuest) Unmount(ctx context.Context, mounts []MountPoint) error {
	ms := slices.Clone(mounts)
	sort.SliceStable(ms, func(a, b int) bool { return depth(ms[a].Target) > depth(ms[b].Target) })
	for _, m := range ms {
		err := unix.Unmount(m.Target, 0)
		switch {
		case err == nil, errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
		case errors.Is(err, unix.EBUSY):
			return fmt.Errorf("%s is busy: close what uses it (fuser -vm %s), then unmount again", m.Target, m.Target)
		default:
			return fmt.Errorf("unmount %s: %w", m.Target, err)
		}
		if m.FSType == "btrfs" {
			for _, d := range m.Devices {
				_ = exec.CommandContext(ctx, "btrfs", "device", "scan", "--forget", g.devPath(d)).Run()
			}
		}
	}
	for _, m := range ms {
		_ = os.Remove(m.Target) // only if empty; the root's own below it too
	}
	return nil
}
