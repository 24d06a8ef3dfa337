package freeze

import (
	"slices"
	"strings"
	"testing"
)

func mps(ts []Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.MountPoint)
	}
	return out
}

func TestClassifySkipRules(t *testing.T) {
	tests := []struct {
		target Target
		reason string // substring; "" means frozen
	}{
		{Target{MountPoint: "/", FSType: "ext4", Dev: "254:1"}, ""},
		{Target{MountPoint: "/data", FSType: "xfs", Dev: "253:0"}, ""},
		{Target{MountPoint: "/home", FSType: "btrfs", Dev: "0:40"}, ""},
		{Target{MountPoint: "/odd", FSType: "zfs", Dev: "0:50"}, ""}, // unknown: the kernel decides
		{Target{MountPoint: "/mnt/nfs", FSType: "nfs4", Dev: "0:60"}, "network filesystem (nfs4)"},
		{Target{MountPoint: "/mnt/smb", FSType: "cifs"}, "network"},
		{Target{MountPoint: "/mnt/smb3", FSType: "smb3"}, "network"},
		{Target{MountPoint: "/mnt/ceph", FSType: "ceph"}, "network"},
		{Target{MountPoint: "/mnt/gl", FSType: "glusterfs"}, "network"},
		{Target{MountPoint: "/mnt/9p", FSType: "9p"}, "network"},
		{Target{MountPoint: "/mnt/ssh", FSType: "fuse.sshfs"}, "FUSE filesystem (fuse.sshfs)"},
		{Target{MountPoint: "/mnt/ntfs", FSType: "fuseblk"}, "FUSE"},
		{Target{MountPoint: "/run", FSType: "tmpfs"}, "virtual filesystem (tmpfs)"},
		{Target{MountPoint: "/dev", FSType: "devtmpfs"}, "virtual"},
		{Target{MountPoint: "/proc", FSType: "proc"}, "virtual"},
		{Target{MountPoint: "/sys", FSType: "sysfs"}, "virtual"},
		{Target{MountPoint: "/sys/fs/cgroup", FSType: "cgroup2"}, "virtual"},
		{Target{MountPoint: "/sys/fs/cgroup/cpu", FSType: "cgroup"}, "virtual"},
		{Target{MountPoint: "/sys/kernel/security", FSType: "securityfs"}, "virtual"},
		{Target{MountPoint: "/sys/kernel/debug", FSType: "debugfs"}, "virtual"},
		{Target{MountPoint: "/sys/kernel/tracing", FSType: "tracefs"}, "virtual"},
		{Target{MountPoint: "/sys/fs/pstore", FSType: "pstore"}, "virtual"},
		{Target{MountPoint: "/sys/fs/bpf", FSType: "bpf"}, "virtual"},
		{Target{MountPoint: "/dev/mqueue", FSType: "mqueue"}, "virtual"},
		{Target{MountPoint: "/dev/hugepages", FSType: "hugetlbfs"}, "virtual"},
		{Target{MountPoint: "/proc/sys/fs/binfmt_misc", FSType: "autofs"}, "virtual"},
		{Target{MountPoint: "/sys/firmware/efi/efivars", FSType: "efivarfs"}, "virtual"},
		{Target{MountPoint: "/sys/kernel/config", FSType: "configfs"}, "virtual"},
		{Target{MountPoint: "/var/lib/docker/overlay2/x/merged", FSType: "overlay"}, "union filesystem (overlay)"},
		{Target{MountPoint: "/snap/core/1", FSType: "squashfs"}, "read-only filesystem (squashfs)"},
		{Target{MountPoint: "/media/cd", FSType: "iso9660"}, "read-only filesystem"},
		{Target{MountPoint: "/boot/efi", FSType: "vfat", Dev: "259:1"}, ""}, // tried; EOPNOTSUPP is reported later
		{Target{MountPoint: "/srv", FSType: "ext4", Dev: "8:1", ReadOnly: true}, "read-only mount"},
		{Target{MountPoint: "relative", FSType: "ext4", Dev: "8:2"}, "not an absolute path"},
		{Target{MountPoint: "", FSType: "ext4", Dev: "8:3"}, "not an absolute path"},
		{Target{MountPoint: "/mnt/NFS", FSType: "NFS"}, "network"}, // case-insensitive
	}
	for _, tc := range tests {
		t.Run(tc.target.FSType+tc.target.MountPoint, func(t *testing.T) {
			frozen, skipped := Classify([]Target{tc.target})
			if tc.reason == "" {
				if len(frozen) != 1 || len(skipped) != 0 {
					t.Fatalf("want frozen, got frozen=%v skipped=%v", frozen, skipped)
				}
				return
			}
			if len(frozen) != 0 || len(skipped) != 1 {
				t.Fatalf("want skipped, got frozen=%v skipped=%v", frozen, skipped)
			}
			if !strings.Contains(skipped[0].Reason, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", skipped[0].Reason, tc.reason)
			}
		})
	}
}

func TestClassifyOrder(t *testing.T) {
	tests := []struct {
		name    string
		targets []Target
		want    []string
		skipped []string
	}{{
		name: "children first, root last",
		targets: []Target{
			{MountPoint: "/", FSType: "ext4", Dev: "254:1"},
			{MountPoint: "/data", FSType: "xfs", Dev: "8:16"},
			{MountPoint: "/var", FSType: "ext4", Dev: "8:32"},
			{MountPoint: "/data/child", FSType: "ext4", Dev: "7:0"},
			{MountPoint: "/var/lib/docker/vol", FSType: "xfs", Dev: "8:48"},
		},
		want: []string{"/var/lib/docker/vol", "/data/child", "/data", "/var", "/"},
	}, {
		name: "bind mounts frozen once, shallowest path kept",
		targets: []Target{
			{MountPoint: "/srv/www", FSType: "ext4", Dev: "254:1"},
			{MountPoint: "/", FSType: "ext4", Dev: "254:1"},
			{MountPoint: "/data", FSType: "xfs", Dev: "8:16"},
			{MountPoint: "/mnt/data-again", FSType: "xfs", Dev: "8:16"},
		},
		want:    []string{"/data", "/"},
		skipped: []string{"/srv/www", "/mnt/data-again"},
	}, {
		name: "a child bind-mounted high up still goes before its parent",
		targets: []Target{
			{MountPoint: "/data", FSType: "xfs", Dev: "8:16"},
			{MountPoint: "/b", FSType: "ext4", Dev: "7:1"},
			{MountPoint: "/data/x", FSType: "ext4", Dev: "7:1"},
		},
		want:    []string{"/b", "/data"},
		skipped: []string{"/data/x"},
	}, {
		name: "a parent bind-mounted deep down still goes after its child",
		targets: []Target{
			{MountPoint: "/y", FSType: "xfs", Dev: "8:16"},
			{MountPoint: "/a/b/c/d", FSType: "xfs", Dev: "8:16"},
			{MountPoint: "/y/x", FSType: "ext4", Dev: "7:1"},
		},
		want:    []string{"/y/x", "/y"},
		skipped: []string{"/a/b/c/d"},
	}, {
		name: "each inside the other: deterministic, root still last",
		targets: []Target{
			{MountPoint: "/", FSType: "ext4", Dev: "254:1"},
			{MountPoint: "/a", FSType: "ext4", Dev: "7:1"},
			{MountPoint: "/b/c", FSType: "ext4", Dev: "7:1"},
			{MountPoint: "/b", FSType: "ext4", Dev: "7:2"},
			{MountPoint: "/a/d", FSType: "ext4", Dev: "7:2"},
		},
		want:    []string{"/a", "/b", "/"},
		skipped: []string{"/b/c", "/a/d"},
	}, {
		name: "no device numbers: never merged",
		targets: []Target{
			{MountPoint: "/m1", FSType: "ext4"},
			{MountPoint: "/m2", FSType: "ext4"},
		},
		want: []string{"/m1", "/m2"},
	}, {
		name: "unclean paths are cleaned",
		targets: []Target{
			{MountPoint: "/data/", FSType: "xfs", Dev: "8:16"},
			{MountPoint: "/data//sub/.", FSType: "ext4", Dev: "7:0"},
		},
		want: []string{"/data/sub", "/data"},
	}, {
		name: "skipped parents do not disturb the order",
		targets: []Target{
			{MountPoint: "/", FSType: "ext4", Dev: "254:1"},
			{MountPoint: "/run", FSType: "tmpfs", Dev: "0:25"},
			{MountPoint: "/run/x", FSType: "ext4", Dev: "7:3"},
		},
		want:    []string{"/run/x", "/"},
		skipped: []string{"/run"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			frozen, skipped := Classify(tc.targets)
			if got := mps(frozen); !slices.Equal(got, tc.want) {
				t.Errorf("freeze order %q, want %q", got, tc.want)
			}
			var gotSkipped []string
			for _, s := range skipped {
				gotSkipped = append(gotSkipped, s.MountPoint)
				if s.Reason == "" {
					t.Errorf("%s skipped without a reason", s.MountPoint)
				}
			}
			if !slices.Equal(gotSkipped, tc.skipped) {
				t.Errorf("skipped %q, want %q", gotSkipped, tc.skipped)
			}
		})
	}
}

func TestClassifyBindMountReason(t *testing.T) {
	_, skipped := Classify([]Target{
		{MountPoint: "/", FSType: "ext4", Dev: "254:1"},
		{MountPoint: "/mnt/root", FSType: "ext4", Dev: "254:1"},
	})
	if len(skipped) != 1 || skipped[0].Reason != "same filesystem as / (device 254:1)" {
		t.Fatalf("skipped = %+v", skipped)
	}
}

// TestClassifyLevels: the levels Classify's order is made of. Members of a
// level are frozen at once, so none may be mounted inside another of its
// level, by any of its mounts, and / is always alone and last.
func TestClassifyLevels(t *testing.T) {
	tests := []struct {
		name    string
		targets []Target
		want    [][]string // mount points per level, leaves first
	}{{
		name: "three levels and an independent leaf",
		targets: []Target{
			{MountPoint: "/a", FSType: "ext4", Dev: "7:1"},
			{MountPoint: "/a/b", FSType: "ext4", Dev: "7:2"},
			{MountPoint: "/a/b/c", FSType: "ext4", Dev: "7:3"},
			{MountPoint: "/d", FSType: "ext4", Dev: "7:4"},
		},
		want: [][]string{{"/a/b/c", "/d"}, {"/a/b"}, {"/a"}},
	}, {
		name: "many disks side by side, root alone at the end",
		targets: []Target{
			{MountPoint: "/", FSType: "ext4", Dev: "254:1"},
			{MountPoint: "/data1", FSType: "xfs", Dev: "8:16"},
			{MountPoint: "/data2", FSType: "xfs", Dev: "8:32"},
			{MountPoint: "/var/lib/x", FSType: "ext4", Dev: "8:48"},
		},
		want: [][]string{{"/var/lib/x", "/data1", "/data2"}, {"/"}},
	}, {
		name: "a child bind-mounted high up still waits for nothing and its parent for it",
		targets: []Target{
			{MountPoint: "/data", FSType: "xfs", Dev: "8:16"},
			{MountPoint: "/b", FSType: "ext4", Dev: "7:1"},
			{MountPoint: "/data/x", FSType: "ext4", Dev: "7:1"},
		},
		want: [][]string{{"/b"}, {"/data"}},
	}, {
		name: "each inside the other: one at a time",
		targets: []Target{
			{MountPoint: "/", FSType: "ext4", Dev: "254:1"},
			{MountPoint: "/a", FSType: "ext4", Dev: "7:1"},
			{MountPoint: "/b/c", FSType: "ext4", Dev: "7:1"},
			{MountPoint: "/b", FSType: "ext4", Dev: "7:2"},
			{MountPoint: "/a/d", FSType: "ext4", Dev: "7:2"},
		},
		want: [][]string{{"/a"}, {"/b"}, {"/"}},
	}, {
		name: "a cycle is broken where the mount points' own nesting allows",
		targets: []Target{
			// /x is bind-mounted inside /x/y, which is inside /x. The
			// deepest group (the one at /x) must not break the cycle: its
			// mount point holds the other's, so the other goes first.
			{MountPoint: "/x", FSType: "ext4", Dev: "7:1"},
			{MountPoint: "/x/y/z/w", FSType: "ext4", Dev: "7:1"},
			{MountPoint: "/x/y", FSType: "ext4", Dev: "7:2"},
		},
		want: [][]string{{"/x/y"}, {"/x"}},
	}, {
		name: "two roots (stacked mounts) do not panic",
		targets: []Target{
			{MountPoint: "/", FSType: "ext4", Dev: "254:1"},
			{MountPoint: "/", FSType: "xfs", Dev: "254:2"},
		},
		want: [][]string{{"/"}, {"/"}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			frozen, levels, _ := classifyLevels(tc.targets)
			if len(levels) != len(frozen) {
				t.Fatalf("%d levels for %d targets", len(levels), len(frozen))
			}
			var got [][]string
			for i, tg := range frozen {
				if i == 0 || levels[i] != levels[i-1] {
					if levels[i] != len(got) {
						t.Fatalf("levels %v are not 0, 1, 2, ... in order", levels)
					}
					got = append(got, nil)
				}
				got[len(got)-1] = append(got[len(got)-1], tg.MountPoint)
			}
			if !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("levels %q, want %q", got, tc.want)
			}
			if plain, _ := Classify(tc.targets); !slices.Equal(mps(plain), mps(frozen)) {
				t.Errorf("Classify order %q differs from its levels' %q", mps(plain), mps(frozen))
			}
			ms := make([]wireMount, len(frozen))
			for i, tg := range frozen {
				ms[i] = wireMount{Path: tg.MountPoint, Level: levels[i]}
			}
			if err := validateMounts(ms); err != nil {
				t.Errorf("the helper would refuse these levels: %v", err)
			}
		})
	}
}
