package topology

import "strings"

// The hand-built fixtures. Each function returns the tree (committed as
// testdata/NAME.tree, checked by TestFixtureArchivesUpToDate) and the
// cloud side of the join (testdata/NAME.cloud.json). Device numbers,
// paths and attribute formats follow what kernels 5.10-6.x show on ECS:
// virtio-blk on major 253 with 16 minors per disk, device-mapper on 252,
// NVMe namespaces and their partitions on 259 (blkext).

type fixture struct {
	name  string
	tree  func() *treeBuilder
	cloud cloudSide
}

// cloudSide is what the caller of Join would have fetched.
type cloudSide struct {
	Disks           []CloudDisk       `json:"disks"`
	MetadataSerials map[string]string `json:"metadata_serials,omitempty"`
}

const (
	gib       = 1 << 30
	sectorGiB = gib / sectorSize
)

// pseudoMounts are the usual mountinfo lines of a systemd machine after the
// root mount (ID 22).
func pseudoMounts() []string {
	return []string{
		"23 22 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw",
		"24 22 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw",
		"25 22 0:5 / /dev rw,nosuid shared:9 - devtmpfs devtmpfs rw,size=3976248k,nr_inodes=994062,mode=755",
		"26 25 0:23 / /dev/shm rw,nosuid,nodev shared:10 - tmpfs tmpfs rw",
		"27 22 0:24 / /run rw,nosuid,nodev shared:12 - tmpfs tmpfs rw,mode=755",
	}
}

func mounts(root string, rest ...string) []string {
	return append(append([]string{root}, pseudoMounts()...), rest...)
}

// lvmUUID builds a dm/uuid the way LVM does: "LVM-", the VG UUID and the LV
// UUID (32 characters each, dashes removed), and an optional suffix for
// hidden layers such as "-tpool".
func lvmUUID(vg, lv, suffix string) string {
	pad := func(s string) string { return (s + strings.Repeat("0", 32))[:32] }
	return "LVM-" + pad(vg) + pad(lv) + suffix
}

// systemVirtio adds the usual system disk: vda with a BIOS boot partition,
// an EFI partition and the root filesystem on vda3.
func systemVirtio(b *treeBuilder, serial string) {
	vda := b.virtio("vda", "253:0", 5, 40*sectorGiB, ptr(serial))
	b.part(vda, 1, "253:1", 2048, 2048)
	b.part(vda, 2, "253:2", 4096, 409600)
	b.part(vda, 3, "253:3", 413696, 40*sectorGiB-413696-34)
	if serial != "" {
		b.byID("virtio-"+serial, "vda")
		for i := 1; i <= 3; i++ {
			b.byID("virtio-"+serial+"-part"+string(rune('0'+i)), "vda"+string(rune('0'+i)))
		}
	}
}

const (
	rootOnVda3 = "22 1 253:3 / / rw,relatime shared:1 - ext4 /dev/vda3 rw"
	efiOnVda2  = "45 22 253:2 / /boot/efi rw,relatime shared:28 - vfat /dev/vda2 rw,fmask=0077,dmask=0077,codepage=437,iocharset=ascii,shortname=winnt,errors=remount-ro"
)

func systemDisk(id string) CloudDisk {
	return CloudDisk{ID: "d-" + id, Serial: id, Category: "cloud_essd", Type: "system", SizeGiB: 40}
}

func dataDisk(id string, size int) CloudDisk {
	return CloudDisk{ID: "d-" + id, Serial: id, Category: "cloud_essd", Type: "data", SizeGiB: size}
}

func fixtures() []fixture {
	return []fixture{
		{name: "virtio-system", tree: virtioSystem, cloud: cloudSide{Disks: []CloudDisk{systemDisk("bp1a1b2c3d4e5f6g7h8i")}}},
		{name: "nvme", tree: nvmeTree, cloud: cloudSide{
			Disks: []CloudDisk{
				{ID: "d-2ze0nvmesys00000001", Serial: "2ze0nvmesys00000001", Category: "cloud_essd", Type: "system", SizeGiB: 40},
				{ID: "d-2ze0nvmedata0000001", Serial: "2ze0nvmedata0000001", Category: "cloud_essd", Type: "data", SizeGiB: 500},
				// DescribeDisks left SerialNumber out; the metadata service knows it.
				{ID: "d-2ze0nvmedata0000002", Category: "cloud_auto", Type: "data", SizeGiB: 100},
			},
			MetadataSerials: map[string]string{"2ze0nvmedata0000002": "d-2ze0nvmedata0000002"},
		}},
		{name: "lvm", tree: lvmTree, cloud: cloudSide{Disks: []CloudDisk{
			systemDisk("bp1lvmsys0000000001"), dataDisk("bp1lvmpv00000000001", 100), dataDisk("bp1lvmpv00000000002", 100),
		}}},
		{name: "lvm-thin", tree: lvmThinTree, cloud: cloudSide{Disks: []CloudDisk{
			systemDisk("bp1thinsys000000001"), dataDisk("bp1thinpv0000000001", 200), dataDisk("bp1thinpv0000000002", 200),
		}}},
		{name: "md-raid1", tree: mdTree, cloud: cloudSide{Disks: []CloudDisk{
			systemDisk("bp1mdsys00000000001"), dataDisk("bp1mdmember00000001", 50), dataDisk("bp1mdmember00000002", 50),
		}}},
		{name: "btrfs", tree: btrfsTree, cloud: cloudSide{Disks: []CloudDisk{
			systemDisk("bp1btrsys0000000001"), dataDisk("bp1btrdata000000001", 100),
			dataDisk("bp1btrdata000000002", 100), dataDisk("bp1btrbackup0000001", 200),
		}}},
		{name: "crypt-on-lvm", tree: cryptTree, cloud: cloudSide{Disks: []CloudDisk{
			systemDisk("bp1cryptsys00000001"), dataDisk("bp1cryptpv000000001", 20), dataDisk("bp1cryptpv000000002", 20),
		}}},
		{name: "no-serial", tree: noSerialTree, cloud: cloudSide{Disks: []CloudDisk{
			// Created before 2020-06-10: no serial anywhere.
			{ID: "d-bp1oldsystem", Category: "cloud_efficiency", Type: "system", SizeGiB: 40},
			// Serial known neither to DescribeDisks nor to the metadata
			// service: only the prefix rule maps it.
			{ID: "d-bp1prefixonly000001", Category: "cloud_essd", Type: "data", SizeGiB: 20},
			// Attached according to the API, absent from the guest.
			dataDisk("bp1notinguest000001", 20),
		}}},
		{name: "multi-attach", tree: multiAttachTree, cloud: cloudSide{Disks: []CloudDisk{
			{ID: "d-uf6masys0000000001", Serial: "uf6masys0000000001", Category: "cloud_essd", Type: "system", SizeGiB: 40},
			{ID: "d-uf6mashared0000001", Serial: "uf6mashared0000001", Category: "cloud_essd", Type: "data", SizeGiB: 100, MultiAttach: true},
		}}},
		{name: "nested-bind", tree: nestedBindTree, cloud: cloudSide{Disks: []CloudDisk{
			systemDisk("bp1nestsys000000001"), dataDisk("bp1nestdata00000001", 100), dataDisk("bp1nestlogs00000001", 50),
		}}},
		{name: "xen-scsi", tree: xenSCSITree, cloud: cloudSide{Disks: []CloudDisk{
			{ID: "d-xenold00000000001", Category: "cloud", Type: "system", SizeGiB: 20},
			{ID: "d-xenold00000000002", Category: "cloud_ssd", Type: "data", SizeGiB: 40},
			{ID: "d-8vbscsi0000000001", Serial: "8vbscsi0000000001", Category: "cloud_essd", Type: "data", SizeGiB: 30},
		}}},
	}
}

func virtioSystem() *treeBuilder {
	b := newTree()
	systemVirtio(b, "bp1a1b2c3d4e5f6g7h8i")
	b.mountinfo(mounts(rootOnVda3, efiOnVda2)...)
	return b
}

func nvmeTree() *treeBuilder {
	b := newTree()
	const ebs = "Alibaba Cloud Elastic Block Storage"
	sys := b.nvme("nvme0n1", "259:0", 4, 0, 40*sectorGiB, "2ze0nvmesys00000001", ebs, false)
	b.part(sys, 1, "259:1", 2048, 409600)
	b.part(sys, 2, "259:2", 411648, 40*sectorGiB-411648-34)
	b.nvme("nvme1n1", "259:3", 6, 1, 500*sectorGiB, "2ze0nvmedata0000001", ebs, true)
	b.nvme("nvme2n1", "259:4", 7, 2, 100*sectorGiB, "2ze0nvmedata0000002", ebs, false)
	// A local NVMe SSD of a storage-optimised instance family.
	b.nvme("nvme3n1", "259:5", 8, 3, 3576*sectorGiB, "S6EWNA0R812345", "SAMSUNG MZWLR3T8HBLS-00007", false)
	for _, d := range []struct{ dev, serial, model string }{
		{"nvme0n1", "2ze0nvmesys00000001", "Alibaba_Cloud_Elastic_Block_Storage"},
		{"nvme0n1p1", "2ze0nvmesys00000001-part1", "Alibaba_Cloud_Elastic_Block_Storage"},
		{"nvme0n1p2", "2ze0nvmesys00000001-part2", "Alibaba_Cloud_Elastic_Block_Storage"},
		{"nvme1n1", "2ze0nvmedata0000001", "Alibaba_Cloud_Elastic_Block_Storage"},
		{"nvme2n1", "2ze0nvmedata0000002", "Alibaba_Cloud_Elastic_Block_Storage"},
		{"nvme3n1", "S6EWNA0R812345", "SAMSUNG_MZWLR3T8HBLS-00007"},
	} {
		b.byID("nvme-"+d.model+"_"+d.serial, d.dev)
	}
	b.mountinfo(mounts("22 1 259:2 / / rw,relatime shared:1 - xfs /dev/nvme0n1p2 rw,attr2,inode64,logbufs=8,logbsize=32k,noquota",
		"45 22 259:1 / /boot/efi rw,relatime shared:28 - vfat /dev/nvme0n1p1 rw,fmask=0077,dmask=0077",
		"46 22 259:3 / /data rw,noatime shared:29 - xfs /dev/nvme1n1 rw,attr2,inode64,logbufs=8,logbsize=32k,noquota",
		"47 22 259:4 / /var/lib/mysql rw,noatime shared:30 - ext4 /dev/nvme2n1 rw",
		"48 22 259:5 / /mnt/local rw,noatime shared:31 - xfs /dev/nvme3n1 rw,attr2,inode64,noquota",
	)...)
	return b
}

// lvmTree: VG "data" over vdb and vdc with a linear LV spanning both, a
// striped LV across both, and a linear LV on vdc alone.
func lvmTree() *treeBuilder {
	b := newTree()
	systemVirtio(b, "bp1lvmsys0000000001")
	b.virtio("vdb", "253:16", 6, 100*sectorGiB, ptr("bp1lvmpv00000000001"))
	b.virtio("vdc", "253:32", 7, 100*sectorGiB, ptr("bp1lvmpv00000000002"))
	const vg = "X2cT9qLm4Rb7Wn1Zk8Hd3Jf6Sg0Yp5Vu"
	b.dm(0, "252:0", "data-home", lvmUUID(vg, "Hm3Qw8Er2Ty6Ui0Op4As9Df1Gh5Jk7Lz", ""), 120*sectorGiB, "vdb", "vdc")
	b.dm(1, "252:1", "data-db", lvmUUID(vg, "Db7Xc2Vb6Nm0Qa4Ws8Ed3Rf1Tg5Yh9Uj", ""), 60*sectorGiB, "vdb", "vdc")
	b.dm(2, "252:2", "data-scratch", lvmUUID(vg, "Sc1Ik5Ol9Pm3Nj7Uh2Yg6Tf0Rd4Es8Wa", ""), 10*sectorGiB, "vdc")
	for i, n := range []string{"data-home", "data-db", "data-scratch"} {
		dm := "dm-" + string(rune('0'+i))
		b.devLink("mapper/"+n, dm)
		b.devLink("data/"+strings.TrimPrefix(n, "data-"), dm)
		b.byID("dm-name-"+n, dm)
	}
	b.byID("virtio-bp1lvmpv00000000001", "vdb")
	b.byID("virtio-bp1lvmpv00000000002", "vdc")
	b.mountinfo(mounts(rootOnVda3, efiOnVda2,
		"60 22 252:0 / /home rw,relatime shared:31 - ext4 /dev/mapper/data-home rw",
		"61 22 252:1 / /var/lib/db rw,noatime shared:32 - xfs /dev/mapper/data-db rw,attr2,inode64,sunit=128,swidth=256,noquota",
		"62 22 252:2 / /scratch rw,relatime shared:33 - ext4 /dev/mapper/data-scratch rw",
	)...)
	return b
}

// lvmThinTree: VG "vg1" over vdb1 and vdc with a thin pool and two thin
// volumes. LVM stacks the pool as _tmeta and _tdata (linear LVs), the
// -tpool target over both, and a read-only -pool LV over the target.
func lvmThinTree() *treeBuilder {
	b := newTree()
	systemVirtio(b, "bp1thinsys000000001")
	vdb := b.virtio("vdb", "253:16", 6, 200*sectorGiB, ptr("bp1thinpv0000000001"))
	b.part(vdb, 1, "253:17", 2048, 200*sectorGiB-2048-34)
	b.virtio("vdc", "253:32", 7, 200*sectorGiB, ptr("bp1thinpv0000000002"))
	const vg = "Tv8Gh2Jk6Lm0Nb4Vc9Xz3As7Df1Qw5Er"
	const pool = "Pl3Oo7Ll1Kk5Jj9Hh2Gg6Ff0Dd4Ss8Aa"
	b.dm(0, "252:0", "vg1-pool_tmeta", lvmUUID(vg, "Mt4Aa8Bb2Cc6Dd0Ee4Ff8Gg2Hh6Ii0Jj", ""), 1*sectorGiB/8, "vdb1")
	b.dm(1, "252:1", "vg1-pool_tdata", lvmUUID(vg, "Dt5Kk9Ll3Mm7Nn1Oo5Pp9Qq3Rr7Ss1Tt", ""), 390*sectorGiB, "vdb1", "vdc")
	b.dm(2, "252:2", "vg1-pool-tpool", lvmUUID(vg, pool, "-tpool"), 390*sectorGiB, "dm-0", "dm-1")
	pl := b.dm(3, "252:3", "vg1-pool", lvmUUID(vg, pool, "-pool"), 390*sectorGiB, "dm-2")
	pl.ro = true
	b.dm(4, "252:4", "vg1-thin1", lvmUUID(vg, "Th1Uu5Vv9Ww3Xx7Yy1Zz5Aa9Bb3Cc7Dd", ""), 500*sectorGiB, "dm-2")
	b.dm(5, "252:5", "vg1-thin2", lvmUUID(vg, "Th2Ee6Ff0Gg4Hh8Ii2Jj6Kk0Ll4Mm8Nn", ""), 500*sectorGiB, "dm-2")
	for i, n := range []string{"vg1-pool_tmeta", "vg1-pool_tdata", "vg1-pool-tpool", "vg1-pool", "vg1-thin1", "vg1-thin2"} {
		b.devLink("mapper/"+n, "dm-"+string(rune('0'+i)))
	}
	b.mountinfo(mounts(rootOnVda3, efiOnVda2,
		"60 22 252:4 / /srv/thin1 rw,relatime shared:31 - ext4 /dev/mapper/vg1-thin1 rw,stripe=16",
		"61 22 252:5 / /srv/thin2 rw,relatime shared:32 - xfs /dev/mapper/vg1-thin2 rw,attr2,inode64,sunit=128,swidth=128,noquota",
	)...)
	return b
}

// mdTree: md127, RAID1 over one partition on each of vdb and vdc.
func mdTree() *treeBuilder {
	b := newTree()
	systemVirtio(b, "bp1mdsys00000000001")
	vdb := b.virtio("vdb", "253:16", 6, 50*sectorGiB, ptr("bp1mdmember00000001"))
	vdc := b.virtio("vdc", "253:32", 7, 50*sectorGiB, ptr("bp1mdmember00000002"))
	b.part(vdb, 1, "253:17", 2048, 50*sectorGiB-2048-34)
	b.part(vdc, 1, "253:33", 2048, 50*sectorGiB-2048-34)
	b.md("md127", "9:127", "raid1", 50*sectorGiB-2048-34-264192, "vdb1", "vdc1")
	b.devLink("md/data", "md127")
	b.byID("md-name-host:data", "md127")
	b.byID("md-uuid-5b1e7f2a:9c3d4e8f:0a1b2c3d:4e5f6071", "md127")
	b.mountinfo(mounts(rootOnVda3, efiOnVda2,
		"60 22 9:127 / /data rw,relatime shared:31 - ext4 /dev/md127 rw",
	)...)
	return b
}

// btrfsTree: a RAID1 btrfs over vdb and vdc with a subvolume mounted too,
// and a single-device btrfs on vdd mounted by a /dev/disk/by-uuid path.
// btrfs mounts carry major 0 in mountinfo.
func btrfsTree() *treeBuilder {
	b := newTree()
	systemVirtio(b, "bp1btrsys0000000001")
	vdb := b.virtio("vdb", "253:16", 6, 100*sectorGiB, ptr("bp1btrdata000000001"))
	vdc := b.virtio("vdc", "253:32", 7, 100*sectorGiB, ptr("bp1btrdata000000002"))
	vdd := b.virtio("vdd", "253:48", 8, 200*sectorGiB, ptr("bp1btrbackup0000001"))
	b.btrfs("3f2a8c1e-6b4d-4e5f-9a7b-1c2d3e4f5a6b", "data", vdb, vdc)
	b.btrfs("9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f", "backup", vdd)
	b.devLink("disk/by-uuid/9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f", "vdd")
	b.devLink("disk/by-uuid/3f2a8c1e-6b4d-4e5f-9a7b-1c2d3e4f5a6b", "vdc")
	b.mountinfo(mounts(rootOnVda3, efiOnVda2,
		"60 22 0:45 / /data rw,relatime shared:31 - btrfs /dev/vdb rw,space_cache=v2,subvolid=5,subvol=/",
		"61 60 0:45 /@snapshots /data/.snapshots rw,relatime shared:32 - btrfs /dev/vdb rw,space_cache=v2,subvolid=257,subvol=/@snapshots",
		"62 22 0:46 / /backup rw,noatime shared:33 - btrfs /dev/disk/by-uuid/9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f rw,compress=zstd:3,space_cache=v2,subvolid=5,subvol=/",
	)...)
	return b
}

// cryptTree: LUKS2 (dm-crypt) on an LVM LV that spans vdb and vdc.
func cryptTree() *treeBuilder {
	b := newTree()
	systemVirtio(b, "bp1cryptsys00000001")
	b.virtio("vdb", "253:16", 6, 20*sectorGiB, ptr("bp1cryptpv000000001"))
	b.virtio("vdc", "253:32", 7, 20*sectorGiB, ptr("bp1cryptpv000000002"))
	const vg = "Cv1Rr5Yy9Pp3Tt7Ss1Ee5Cc9Uu3Rr7Ee"
	b.dm(0, "252:0", "secure-vault", lvmUUID(vg, "Va4Uu8Ll2Tt6Vv0Aa4Uu8Ll2Tt6Vv0Aa", ""), 38*sectorGiB, "vdb", "vdc")
	b.dm(1, "252:1", "vault_crypt", "CRYPT-LUKS2-6f1d2c3b4a5948e7a1b2c3d4e5f60718-vault_crypt", 38*sectorGiB-32768, "dm-0")
	b.devLink("mapper/secure-vault", "dm-0")
	b.devLink("mapper/vault_crypt", "dm-1")
	b.byID("dm-uuid-CRYPT-LUKS2-6f1d2c3b4a5948e7a1b2c3d4e5f60718-vault_crypt", "dm-1")
	b.mountinfo(mounts(rootOnVda3, efiOnVda2,
		"60 22 252:1 / /secure rw,relatime shared:31 - ext4 /dev/mapper/vault_crypt rw",
	)...)
	return b
}

// noSerialTree: a system disk too old to have a serial (virtio-blk shows an
// empty attribute), a data disk whose serial only the prefix rule maps, a
// disk with a serial the inventory does not know, a bound loop device and
// a zram swap device.
func noSerialTree() *treeBuilder {
	b := newTree()
	systemVirtio(b, "")
	b.virtio("vdb", "253:16", 6, 20*sectorGiB, ptr("bp1prefixonly000001"))
	b.virtio("vdc", "253:32", 7, 10*sectorGiB, ptr("bp1strangerdisk0001"))
	b.loop(0, 2*sectorGiB, "/var/lib/images/tools.img")
	b.loop(1, 0, "")
	b.virtual("zram0", "251:0", 4*sectorGiB)
	b.mountinfo(mounts(rootOnVda3, efiOnVda2,
		"60 22 253:16 / /data rw,relatime shared:31 - ext4 /dev/vdb rw",
		"61 22 253:32 / /mnt/stranger rw,relatime shared:32 - ext4 /dev/vdc rw",
		"62 22 7:0 / /opt/tools ro,relatime shared:33 - squashfs /dev/loop0 ro,errors=continue",
	)...)
	return b
}

// multiAttachTree: an NVMe instance with a multi-attach disk shared with
// another instance (the inventory marks it).
func multiAttachTree() *treeBuilder {
	b := newTree()
	const ebs = "Alibaba Cloud Elastic Block Storage"
	sys := b.nvme("nvme0n1", "259:0", 4, 0, 40*sectorGiB, "uf6masys0000000001", ebs, false)
	b.part(sys, 1, "259:1", 2048, 40*sectorGiB-2048-34)
	b.nvme("nvme1n1", "259:2", 6, 1, 100*sectorGiB, "uf6mashared0000001", ebs, true)
	b.byID("nvme-Alibaba_Cloud_Elastic_Block_Storage_uf6masys0000000001", "nvme0n1")
	b.byID("nvme-Alibaba_Cloud_Elastic_Block_Storage_uf6mashared0000001", "nvme1n1")
	b.mountinfo(mounts("22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p1 rw",
		"60 22 259:2 / /shared rw,relatime shared:31 - gfs2 /dev/nvme1n1 rw,lockproto=lock_dlm",
	)...)
	return b
}

// nestedBindTree: nested mounts, bind mounts (of a subdirectory, of a
// whole filesystem, read-only) and mount points that need mountinfo's
// octal escapes for space, tab, newline and backslash.
func nestedBindTree() *treeBuilder {
	b := newTree()
	systemVirtio(b, "bp1nestsys000000001")
	b.virtio("vdb", "253:16", 6, 100*sectorGiB, ptr("bp1nestdata00000001"))
	b.virtio("vdc", "253:32", 7, 50*sectorGiB, ptr("bp1nestlogs00000001"))
	b.loop(0, 700*1024*1024/sectorSize, "/data/iso/rescue disk.iso")
	b.mountinfo(mounts(rootOnVda3, efiOnVda2,
		"60 22 253:16 / /data rw,relatime shared:31 - ext4 /dev/vdb rw",
		"61 60 253:32 / /data/logs rw,relatime shared:32 - xfs /dev/vdc rw,attr2,inode64,noquota",
		"62 22 253:16 /www /srv/www rw,relatime shared:31 - ext4 /dev/vdb rw",
		`63 22 253:32 / /mnt/my\040disk rw,relatime shared:32 - xfs /dev/vdc rw,attr2,inode64,noquota`,
		`64 22 253:16 /back\134slash\040dir /mnt/back\134slash ro,relatime shared:31 - ext4 /dev/vdb rw`,
		`65 22 0:50 / /mnt/tab\011here rw,relatime shared:34 - tmpfs tmp\040fs rw,size=65536k`,
		`66 22 253:16 /new\012line /mnt/new\012line rw,relatime shared:31 - ext4 /dev/vdb rw`,
		"67 22 0:51 / /var/lib/docker/overlay2/4e1c/merged rw,relatime - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/ABC,upperdir=/var/lib/docker/overlay2/4e1c/diff,workdir=/var/lib/docker/overlay2/4e1c/work",
		`68 60 7:0 / /data/iso/mnt ro,relatime shared:35 - iso9660 /dev/loop0 ro,nojoliet,check=s,map=n,blocksize=2048`,
	)...)
	return b
}

// xenSCSITree: an older instance type with Xen disks (no serials in
// sysfs) plus a SCSI disk whose VPD page 0x80 holds the serial, and a
// SCSI disk with a broken VPD page.
func xenSCSITree() *treeBuilder {
	b := newTree()
	xvda := b.xen("xvda", "202:0", "51712", 20*sectorGiB)
	b.part(xvda, 1, "202:1", 2048, 20*sectorGiB-2048)
	b.xen("xvdb", "202:16", "51728", 40*sectorGiB)
	b.scsi("sda", "8:0", "0:0:0:0", 30*sectorGiB, "ALIBABA", "CLOUD DISK", vpd80("8vbscsi0000000001"))
	b.scsi("sdb", "8:16", "0:0:1:0", 10*sectorGiB, "ALIBABA", "CLOUD DISK", "\x00\x83\x00\x04abcd")
	b.mountinfo(mounts("22 1 202:1 / / rw,relatime shared:1 - ext4 /dev/xvda1 rw",
		"60 22 202:16 / /data rw,relatime shared:31 - ext4 /dev/xvdb rw",
		"61 22 8:0 / /scsi rw,relatime shared:32 - xfs /dev/sda rw,attr2,inode64,noquota",
	)...)
	return b
}
