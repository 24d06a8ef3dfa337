package topology

import (
	"fmt"
	"testing"
)

// virtioName is the kernel's name for the i-th virtio disk: vda..vdz,
// vdaa..vdzz (bijective base 26).
func virtioName(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('a'+(i-1)%26)) + s
	}
	return "vd" + s
}

// bigMachine builds a machine of 64 disks (32 virtio, 32 NVMe, two
// partitions each), 8 LVM volume groups over disk pairs with 3 LVs each,
// 2 md RAID1 arrays, 2 two-disk btrfs filesystems, and 200 mounts: the
// partitions, LVs, arrays, btrfs and their subvolumes, bind mounts and
// pseudo filesystems.
func bigMachine() *treeBuilder {
	b := newTree()
	var lines []string
	id := 100
	mount := func(dev, root, point, fs, src string) {
		id++
		lines = append(lines, fmt.Sprintf("%d 22 %s %s %s rw,relatime shared:%d - %s %s rw", id, dev, root, point, id, fs, src))
	}
	lines = append(lines, "22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw")
	lines = append(lines, pseudoMounts()...)
	var disks []*specDev
	for i := range 32 {
		name := virtioName(i)
		disks = append(disks, b.virtio(name, fmt.Sprintf("253:%d", 16*i), 5+i, 100*sectorGiB, ptr(fmt.Sprintf("bp1bench%011d", i))))
		b.byID("virtio-"+fmt.Sprintf("bp1bench%011d", i), name)
	}
	for i := range 32 {
		name := fmt.Sprintf("nvme%dn1", i)
		serial := fmt.Sprintf("2zebench%011d", i)
		disks = append(disks, b.nvme(name, fmt.Sprintf("259:%d", 3*i), 40+i, i, 100*sectorGiB, serial, "Alibaba Cloud Elastic Block Storage", i%4 == 0))
		b.byID("nvme-Alibaba_Cloud_Elastic_Block_Storage_"+serial, name)
	}
	// Partitions of every disk except those given whole to LVM, md, btrfs.
	whole := map[int]bool{}
	for i := 40; i < 64; i++ {
		whole[i] = true
	}
	for i, d := range disks {
		if whole[i] {
			continue
		}
		maj, min := 253, 16*i
		if d.name[0] == 'n' {
			maj, min = 259, 3*(i-32)
		}
		for p := 1; p <= 2; p++ {
			part := b.part(d, p, fmt.Sprintf("%d:%d", maj, min+p), uint64(2048+(p-1)*50*sectorGiB), 50*sectorGiB-2048)
			if i == 0 && p == 1 {
				continue // the root filesystem, mounted above
			}
			mount(part.num, "/", fmt.Sprintf("/srv/%s", part.name), "ext4", "/dev/"+part.name)
		}
	}
	dm := 0
	for vg := range 8 {
		a, c := disks[40+2*vg], disks[41+2*vg]
		for lv := range 3 {
			name := fmt.Sprintf("vg%d-lv%d", vg, lv)
			d := b.dm(dm, fmt.Sprintf("252:%d", dm), name, lvmUUID(fmt.Sprintf("VG%d", vg), fmt.Sprintf("LV%d", lv), ""), 50*sectorGiB, a.name, c.name)
			b.devLink("mapper/"+name, d.name)
			mount(d.num, "/", "/data/"+name, "xfs", "/dev/mapper/"+name)
			dm++
		}
	}
	for m := range 2 {
		md := b.md(fmt.Sprintf("md%d", m), fmt.Sprintf("9:%d", m), "raid1", 100*sectorGiB, disks[56+2*m].name, disks[57+2*m].name)
		mount(md.num, "/", fmt.Sprintf("/raid%d", m), "ext4", "/dev/"+md.name)
	}
	for f := range 2 {
		a, c := disks[60+2*f], disks[61+2*f]
		fsid := fmt.Sprintf("0000000%d-1111-2222-3333-444444444444", f)
		b.btrfs(fsid, fmt.Sprintf("pool%d", f), a, c)
		dev := fmt.Sprintf("0:%d", 60+f)
		mount(dev, "/", fmt.Sprintf("/pool%d", f), "btrfs", "/dev/"+a.name)
		for s := range 5 {
			mount(dev, fmt.Sprintf("/@sub%d", s), fmt.Sprintf("/pool%d/sub%d", f, s), "btrfs", "/dev/"+a.name)
		}
	}
	for len(lines) < 200 {
		n := len(lines)
		if n%2 == 0 {
			mount("253:17", fmt.Sprintf("/dir%d", n), fmt.Sprintf("/bind/%d", n), "ext4", "/dev/vdb1")
		} else {
			mount(fmt.Sprintf("0:%d", 100+n), "/", fmt.Sprintf("/run/user/%d", n), "tmpfs", "tmpfs")
		}
	}
	b.mountinfo(lines...)
	return b
}

func TestBigMachine(t *testing.T) {
	topo, err := New(writeTree(t, bigMachine())).Discover()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(topo.Disks()); n != 64 {
		t.Errorf("%d disks, want 64", n)
	}
	if n := len(topo.Mounts); n != 200 {
		t.Errorf("%d mounts, want 200", n)
	}
	for _, m := range topo.Mounts {
		if _, err := topo.DisksUnder(m); err != nil {
			t.Errorf("DisksUnder(%s): %v", m.MountPoint, err)
		}
	}
	if got := virtioName(26); got != "vdaa" {
		t.Errorf("virtioName(26) = %s", got)
	}
}

// BenchmarkDiscover64 measures one Discover of a 64-disk, 200-mount
// machine (target: under 20 ms).
func BenchmarkDiscover64(b *testing.B) {
	fs := New(writeTree(b, bigMachine()))
	for b.Loop() {
		if _, err := fs.Discover(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDisksUnder200 measures the planner's use: DisksUnder for every
// mount of the same machine.
func BenchmarkDisksUnder200(b *testing.B) {
	topo, err := New(writeTree(b, bigMachine())).Discover()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		for _, m := range topo.Mounts {
			if _, err := topo.DisksUnder(m); err != nil {
				b.Fatal(err)
			}
		}
	}
}
