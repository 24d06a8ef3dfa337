package topology

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/topology/topologytest"
)

// writeTree writes a builder's tree (plus extra entries) into a fresh
// temporary root.
func writeTree(t testing.TB, b *treeBuilder, extra ...topologytest.Entry) string {
	t.Helper()
	root := t.TempDir()
	if err := topologytest.WriteTree(root, append(b.build(), extra...)); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestNewRoots(t *testing.T) {
	for _, root := range []string{"", "/"} {
		if fs := New(root); fs.sys != "/sys" || fs.proc != "/proc" || fs.dev != "/dev" {
			t.Errorf("New(%q) = %+v", root, fs)
		}
	}
	if fs := New("/tmp/fx"); fs.sys != "/tmp/fx/sys" || fs.dev != "/tmp/fx/dev" {
		t.Errorf("New(/tmp/fx) = %+v", fs)
	}
}

func TestDiscoverMinimalTree(t *testing.T) {
	// No /dev/disk/by-id (no udev), no /sys/fs/btrfs (module not loaded).
	b := newTree()
	systemVirtio(b, "")
	b.mountinfo(rootOnVda3)
	topo, err := New(writeTree(t, b)).Discover()
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.Devices) != 4 || topo.Btrfs != nil || len(topo.Warnings) != 0 {
		t.Errorf("devices %d, btrfs %v, warnings %q", len(topo.Devices), topo.Btrfs, topo.Warnings)
	}
}

func TestDiscoverDeprecatedSysfsLayout(t *testing.T) {
	// CONFIG_SYSFS_DEPRECATED: no /sys/class/block, partitions are
	// subdirectories of real directories in /sys/block.
	root := t.TempDir()
	entries := []topologytest.Entry{
		{Kind: topologytest.KindFile, Path: "sys/block/xvda/dev", Data: []byte("202:0\n")},
		{Kind: topologytest.KindFile, Path: "sys/block/xvda/size", Data: []byte("41943040\n")},
		{Kind: topologytest.KindFile, Path: "sys/block/xvda/xvda1/dev", Data: []byte("202:1\n")},
		{Kind: topologytest.KindFile, Path: "sys/block/xvda/xvda1/partition", Data: []byte("1\n")},
		{Kind: topologytest.KindFile, Path: "sys/block/xvda/xvda1/size", Data: []byte("41940992\n")},
		{Kind: topologytest.KindDir, Path: "sys/block/xvda/queue"},
		{Kind: topologytest.KindFile, Path: "proc/self/mountinfo", Data: []byte("1 0 202:1 / / rw - ext4 /dev/xvda1 rw\n")},
	}
	if err := topologytest.WriteTree(root, entries); err != nil {
		t.Fatal(err)
	}
	topo, err := New(root).Discover()
	if err != nil {
		t.Fatal(err)
	}
	if p := topo.Devices["xvda1"]; p == nil || p.Parent != "xvda" || p.Kind != KindPartition {
		t.Fatalf("xvda1 = %+v", p)
	}
	if got, err := topo.DisksUnder(topo.Mounts[0]); err != nil || !slices.Equal(got, []string{"xvda"}) {
		t.Errorf("DisksUnder(/) = %v, %v", got, err)
	}
}

func TestDiscoverGuessesParentWithoutLink(t *testing.T) {
	// A copy that lost the class/block symlinks (a plain directory per
	// device): the partition's disk is found by name.
	root := t.TempDir()
	entries := []topologytest.Entry{
		{Kind: topologytest.KindFile, Path: "sys/class/block/nvme0n1/dev", Data: []byte("259:0\n")},
		{Kind: topologytest.KindFile, Path: "sys/class/block/nvme0n1p1/dev", Data: []byte("259:1\n")},
		{Kind: topologytest.KindFile, Path: "sys/class/block/nvme0n1p1/partition", Data: []byte("1\n")},
		{Kind: topologytest.KindSymlink, Path: "sys/block/nvme0n1", Target: "../class/block/nvme0n1"},
		{Kind: topologytest.KindFile, Path: "proc/self/mountinfo", Data: []byte("1 0 259:1 / / rw - ext4 /dev/nvme0n1p1 rw\n")},
	}
	if err := topologytest.WriteTree(root, entries); err != nil {
		t.Fatal(err)
	}
	topo, err := New(root).Discover()
	if err != nil {
		t.Fatal(err)
	}
	if p := topo.Devices["nvme0n1p1"]; p == nil || p.Parent != "nvme0n1" {
		t.Fatalf("nvme0n1p1 = %+v", p)
	}
	if d := topo.Devices["nvme0n1"]; !slices.Equal(d.Partitions, []string{"nvme0n1p1"}) {
		t.Errorf("nvme0n1 partitions = %v", d.Partitions)
	}
}

func TestDiscoverVanishedAndUnknownDevices(t *testing.T) {
	b := newTree()
	systemVirtio(b, "bp1x")
	b.mountinfo(rootOnVda3, "60 22 253:80 / /gone rw - ext4 /dev/vdf rw")
	root := writeTree(t, b,
		// Listed, then removed before its attributes were read.
		topologytest.Entry{Kind: topologytest.KindSymlink, Path: "sys/class/block/vdz", Target: "../../devices/pci0000:00/0000:00:0f.0/virtio13/block/vdz"},
		// In /sys/dev/block but not in /sys/class/block (hot-plugged meanwhile).
		topologytest.Entry{Kind: topologytest.KindSymlink, Path: "sys/dev/block/253:80", Target: "../../devices/pci0000:00/0000:00:0b.0/virtio9/block/vdf"},
	)
	topo, err := New(root).Discover()
	if err != nil {
		t.Fatal(err)
	}
	if topo.Devices["vdz"] != nil {
		t.Error("vanished vdz listed")
	}
	joined := strings.Join(topo.Warnings, "\n")
	if !strings.Contains(joined, "vdz: disappeared") || !strings.Contains(joined, "253:80 (vdf)") {
		t.Errorf("warnings = %q", topo.Warnings)
	}
	gone := topo.Mounts[len(topo.Mounts)-1]
	if _, err := topo.DisksUnder(gone); !errors.Is(err, ErrUnknownDevice) {
		t.Errorf("DisksUnder(/gone) error = %v", err)
	}
	if len(topo.MountsOn("vda")) != 1 {
		t.Errorf("MountsOn(vda) = %+v", topo.MountsOn("vda"))
	}
}

func TestDiscoverErrors(t *testing.T) {
	tests := []struct {
		name, want string
		edit       func(root string) error
	}{
		{"no mountinfo", "mountinfo", func(root string) error { return os.Remove(filepath.Join(root, "proc/self/mountinfo")) }},
		{"malformed mountinfo", "mountinfo line 2", func(root string) error {
			return os.WriteFile(filepath.Join(root, "proc/self/mountinfo"), []byte("26 1 253:3 / / rw - ext4 /dev/vda3 rw\nbad\n"), 0o644)
		}},
		{"malformed size", "vdb: size", func(root string) error {
			return os.WriteFile(filepath.Join(root, "sys/class/block/vdb/size"), []byte("lots\n"), 0o644)
		}},
		{"malformed dev", "vdb: device number", func(root string) error {
			return os.WriteFile(filepath.Join(root, "sys/class/block/vdb/dev"), []byte("253\n"), 0o644)
		}},
		{"malformed ro", "vdb: ro", func(root string) error {
			return os.WriteFile(filepath.Join(root, "sys/class/block/vdb/ro"), []byte("yes\n"), 0o644)
		}},
		{"oversized attribute", "longer than 4096 bytes", func(root string) error {
			return os.WriteFile(filepath.Join(root, "sys/class/block/vdb/size"), []byte(strings.Repeat("1", 5000)), 0o644)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTree()
			systemVirtio(b, "bp1x")
			b.virtio("vdb", "253:16", 6, 1024, ptr("bp1y"))
			b.mountinfo(rootOnVda3)
			root := writeTree(t, b)
			if err := tt.edit(root); err != nil {
				t.Fatal(err)
			}
			_, err := New(root).Discover()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestResolveDevPath(t *testing.T) {
	b := newTree()
	systemVirtio(b, "bp1x")
	b.dm(0, "252:0", "vg-lv", lvmUUID("vg", "lv", ""), 1024, "vda3")
	b.devLink("mapper/vg-lv", "dm-0")
	b.mountinfo(rootOnVda3)
	root := writeTree(t, b,
		topologytest.Entry{Kind: topologytest.KindSymlink, Path: "dev/disk/by-label/loopy", Target: "loopy2"},
		topologytest.Entry{Kind: topologytest.KindSymlink, Path: "dev/disk/by-label/loopy2", Target: "loopy"},
		topologytest.Entry{Kind: topologytest.KindSymlink, Path: "dev/disk/by-label/escape", Target: "../../../etc/vda"},
		topologytest.Entry{Kind: topologytest.KindSymlink, Path: "dev/disk/by-label/abs", Target: "/dev/vda2"},
		topologytest.Entry{Kind: topologytest.KindSymlink, Path: "dev/disk/by-label/absout", Target: "/etc/vda2"},
		// dmsetup without udev makes a node named after the map.
		topologytest.Entry{Kind: topologytest.KindFile, Path: "dev/mapper/vg-lv2"},
	)
	fs := New(root)
	topo, err := fs.Discover()
	if err != nil {
		t.Fatal(err)
	}
	topo.Devices["dm-1"] = &BlockDevice{Name: "dm-1", Dev: "252:1", Kind: KindDM, DMName: "vg-lv2"}
	byDev := map[string]string{}
	for n, d := range topo.Devices {
		byDev[d.Dev] = n
	}
	for src, want := range map[string]string{
		"/dev/vda3":                 "vda3",
		"/dev/mapper/vg-lv":         "dm-0",
		"/dev/mapper/vg-lv2":        "dm-1",
		"/dev/disk/by-label/abs":    "vda2",
		"/dev/disk/by-label/loopy":  "",
		"/dev/disk/by-label/escape": "",
		"/dev/disk/by-label/absout": "",
		"/dev/../etc/passwd":        "",
		"/dev/root":                 "",
		"tmpfs":                     "",
	} {
		if got := fs.resolveDevPath(src, topo.Devices, byDev); got != want {
			t.Errorf("resolveDevPath(%q) = %q, want %q", src, got, want)
		}
	}
}
