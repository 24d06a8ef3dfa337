package topology

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// stackTopology is hand-built (no Discover, so no index): vdb and vdc
// under an md array, an LV on the array, and a btrfs over vdd and vde.
func stackTopology() *Topology {
	disk := func(name, dev string) *BlockDevice {
		return &BlockDevice{Name: name, Dev: dev, Kind: KindDisk, Transport: TransportVirtio, SizeBytes: gib}
	}
	t := &Topology{Devices: map[string]*BlockDevice{
		"vda":  disk("vda", "253:0"),
		"vda1": {Name: "vda1", Dev: "253:1", Kind: KindPartition, Parent: "vda"},
		"vdb":  disk("vdb", "253:16"),
		"vdc":  disk("vdc", "253:32"),
		"vdd":  disk("vdd", "253:48"),
		"vde":  disk("vde", "253:64"),
		"md0":  {Name: "md0", Dev: "9:0", Kind: KindMD, Slaves: []string{"vdb", "vdc"}, Holders: []string{"dm-0"}},
		"dm-0": {Name: "dm-0", Dev: "252:0", Kind: KindDM, DMName: "vg-lv", Slaves: []string{"md0"}},
	}}
	t.Devices["vda"].Partitions = []string{"vda1"}
	t.Devices["vdb"].Holders = []string{"md0"}
	t.Devices["vdc"].Holders = []string{"md0"}
	t.Btrfs = map[string][]string{"fs1": {"vdd", "vde"}}
	t.Mounts = []Mount{
		{ID: 1, Dev: "253:1", MountPoint: "/", FSType: "ext4", Source: "/dev/vda1"},
		{ID: 2, Dev: "252:0", MountPoint: "/data", FSType: "xfs", Source: "/dev/mapper/vg-lv"},
		{ID: 3, Dev: "0:40", MountPoint: "/pool", FSType: "btrfs", Source: "/dev/vde"},
		{ID: 4, Dev: "0:41", MountPoint: "/tmp", FSType: "tmpfs", Source: "tmpfs"},
	}
	return t
}

func TestDisksUnderHandBuilt(t *testing.T) {
	topo := stackTopology()
	for i, want := range [][]string{{"vda"}, {"vdb", "vdc"}, {"vdd", "vde"}, nil} {
		got, err := topo.DisksUnder(topo.Mounts[i])
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("DisksUnder(%s) = %v, %v; want %v", topo.Mounts[i].MountPoint, got, err, want)
		}
	}
	if got := topo.MountsOn("vdc"); len(got) != 1 || got[0].MountPoint != "/data" {
		t.Errorf("MountsOn(vdc) = %+v", got)
	}
	if got := topo.Holders("vdb"); !slices.Equal(got, []string{"md0", "dm-0"}) {
		t.Errorf("Holders(vdb) = %v", got)
	}
	if got := topo.Holders("nope"); got != nil {
		t.Errorf("Holders(nope) = %v", got)
	}
	// Results are copies: editing one must not change the next answer.
	got, _ := topo.DisksUnder(topo.Mounts[1])
	got[0] = "edited"
	if again, _ := topo.DisksUnder(topo.Mounts[1]); again[0] != "vdb" {
		t.Errorf("DisksUnder shares its slice: %v", again)
	}
}

func TestDisksUnderIndexedCopy(t *testing.T) {
	topo := stackTopology()
	topo.idx = buildIndex(topo)
	got, _ := topo.DisksUnder(topo.Mounts[0])
	got[0] = "edited"
	if again, _ := topo.DisksUnder(topo.Mounts[0]); again[0] != "vda" {
		t.Errorf("DisksUnder shares the memo: %v", again)
	}
}

func TestDisksUnderErrors(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*Topology)
		mount  Mount
		target error
		text   string
	}{
		{
			name:   "device number unknown to sysfs",
			mount:  Mount{Dev: "253:99", MountPoint: "/x", FSType: "ext4", Source: "/dev/vdz"},
			target: ErrUnknownDevice,
		},
		{
			name:   "slave missing",
			edit:   func(t *Topology) { t.Devices["md0"].Slaves = []string{"vdb", "vdq"} },
			mount:  Mount{Dev: "252:0", MountPoint: "/data", FSType: "xfs"},
			target: ErrUnknownDevice,
		},
		{
			name: "slaves loop",
			edit: func(t *Topology) {
				t.Devices["md0"].Slaves = []string{"dm-0"}
			},
			mount: Mount{Dev: "252:0", MountPoint: "/data", FSType: "xfs"},
			text:  "cycle",
		},
		{
			name:   "partition without parent",
			edit:   func(t *Topology) { t.Devices["vda1"].Parent = "" },
			mount:  Mount{Dev: "253:1", MountPoint: "/", FSType: "ext4"},
			target: ErrUnknownDevice,
		},
		{
			name:   "zfs keeps its members to itself",
			mount:  Mount{Dev: "0:50", MountPoint: "/tank", FSType: "zfs", Source: "tank/data"},
			target: ErrUnsupportedFilesystem,
		},
		{
			name:   "btrfs source on no registered filesystem",
			mount:  Mount{Dev: "0:42", MountPoint: "/b", FSType: "btrfs", Source: "/dev/vdb"},
			target: ErrUnknownDevice,
		},
		{
			name:   "btrfs source unresolvable with two filesystems",
			edit:   func(t *Topology) { t.Btrfs["fs2"] = []string{"vdc"} },
			mount:  Mount{Dev: "0:42", MountPoint: "/b", FSType: "btrfs", Source: "/dev/root"},
			target: ErrUnknownDevice,
		},
		{
			name:  "malformed device number",
			mount: Mount{Dev: "x", MountPoint: "/b", FSType: "ext4"},
			text:  "major:minor",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topo := stackTopology()
			if tt.edit != nil {
				tt.edit(topo)
			}
			got, err := topo.DisksUnder(tt.mount)
			if err == nil {
				t.Fatalf("no error, disks %v", got)
			}
			if tt.target != nil && !errors.Is(err, tt.target) {
				t.Errorf("error %v is not %v", err, tt.target)
			}
			if !strings.Contains(err.Error(), tt.text) || !strings.Contains(err.Error(), tt.mount.MountPoint) {
				t.Errorf("error %q lacks %q or the mount point", err, tt.text)
			}
		})
	}
}

func TestBtrfsSourceFallbacks(t *testing.T) {
	topo := stackTopology()
	// A kernel-mounted root shows /dev/root; with one btrfs it is unambiguous.
	got, err := topo.DisksUnder(Mount{Dev: "0:40", MountPoint: "/", FSType: "btrfs", Source: "/dev/root"})
	if err != nil || !slices.Equal(got, []string{"vdd", "vde"}) {
		t.Errorf("/dev/root: %v, %v", got, err)
	}
	// A btrfs on an LV, named through /dev/mapper.
	topo.Btrfs = map[string][]string{"fs1": {"dm-0"}, "fs2": {"vdd"}}
	got, err = topo.DisksUnder(Mount{Dev: "0:40", MountPoint: "/m", FSType: "btrfs", Source: "/dev/mapper/vg-lv"})
	if err != nil || !slices.Equal(got, []string{"vdb", "vdc"}) {
		t.Errorf("/dev/mapper source: %v, %v", got, err)
	}
}

func TestMountDeviceOnlyFromDiscover(t *testing.T) {
	mounts, err := ParseMountInfo([]byte("26 1 254:0 / / rw - ext4 /dev/vda rw\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := mounts[0].Device(); got != "" {
		t.Errorf("Device() of a parsed mount = %q", got)
	}
}

func TestSuperblockMounts(t *testing.T) {
	mounts, err := ParseMountInfo([]byte(
		"22 1 0:40 /@ / rw - btrfs /dev/vda2 rw,subvol=/@\n" + // Ubuntu's root: a subvolume
			"23 22 0:40 /@home /home rw - btrfs /dev/vda2 rw,subvol=/@home\n" +
			"24 22 253:16 /www /srv/www rw - ext4 /dev/vdb rw\n" + // bind seen before the root mount
			"25 22 253:16 / /data rw - ext4 /dev/vdb rw\n" +
			"26 22 253:16 / /again rw - ext4 /dev/vdb rw\n" +
			"27 22 0:50 / /tmp rw - tmpfs tmpfs rw\n"))
	if err != nil {
		t.Fatal(err)
	}
	topo := &Topology{Mounts: mounts}
	var got []string
	for _, m := range topo.SuperblockMounts() {
		got = append(got, m.MountPoint)
	}
	if want := []string{"/", "/data", "/tmp"}; !slices.Equal(got, want) {
		t.Errorf("SuperblockMounts = %v, want %v", got, want)
	}
	if !mounts[0].Bind {
		t.Error("a subvolume root mount is Bind by definition (Root != /)")
	}
}

// A btrfs whose source names a device outside the topology (a loop device
// another program set up, a disk attached after /sys was listed) is not
// the one btrfs that /sys/fs/btrfs lists when the mount table shows that
// one on a superblock of its own: two superblocks are two filesystems.
// Guessing otherwise put a stranger's mount into a closure and its freeze
// set, and the job failed when the stranger unmounted it.
func TestBtrfsSourceFallbackOneSuperblock(t *testing.T) {
	topo := stackTopology()
	foreign := Mount{ID: 5, Dev: "0:42", MountPoint: "/elsewhere", FSType: "btrfs", Source: "/dev/loop3"}
	topo.Mounts = append(topo.Mounts, foreign)
	got, err := topo.DisksUnder(foreign)
	if !errors.Is(err, ErrUnknownDevice) {
		t.Errorf("DisksUnder(%s) = %v, %v; want ErrUnknownDevice", foreign.MountPoint, got, err)
	}
	if got := topo.MountsOn("vdd"); len(got) != 1 || got[0].MountPoint != "/pool" {
		t.Errorf("MountsOn(vdd) = %+v, want only /pool", got)
	}
	// The same with the known btrfs unresolvable too (/dev/root): two
	// superblocks, one listed filesystem, and no telling which is which.
	topo.Mounts[2].Source = "/dev/root"
	for _, m := range []Mount{topo.Mounts[2], foreign} {
		if got, err := topo.DisksUnder(m); !errors.Is(err, ErrUnknownDevice) {
			t.Errorf("DisksUnder(%s) = %v, %v; want ErrUnknownDevice", m.MountPoint, got, err)
		}
	}
	// A subvolume of the listed filesystem is the same superblock: still
	// a machine with one btrfs.
	topo.Mounts = append(topo.Mounts[:4], Mount{ID: 6, Dev: "0:40", Root: "/@home", MountPoint: "/home", FSType: "btrfs", Source: "/dev/root"})
	if got, err := topo.DisksUnder(topo.Mounts[4]); err != nil || !slices.Equal(got, []string{"vdd", "vde"}) {
		t.Errorf("DisksUnder(/home) = %v, %v; want [vdd vde]", got, err)
	}
}
