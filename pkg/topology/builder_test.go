package topology

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ecssnap/ecssnap/pkg/topology/topologytest"
)

// treeBuilder assembles a fixture tree that mimics the kernel's layout:
// each device lives in its directory under /sys/devices, and /sys/block,
// /sys/class/block, /sys/dev/block, slaves/, holders/ and device/ are
// relative symlinks into it, as sysfs makes them. It is used for the
// committed fixtures (see fixtures_test.go) and the benchmark's generated
// machine.
type treeBuilder struct {
	entries []topologytest.Entry
	devs    map[string]*specDev
	order   []string
}

// specDev is one block device of a fixture.
type specDev struct {
	name, num string
	dir       string // relative to the root: sys/devices/.../<name>
	sectors   uint64
	ro        bool
	removable bool
	partNo    int // > 0 for partitions
	start     uint64
	slaves    []string
	attrs     map[string]string // extra attribute files, relative to dir
}

func newTree() *treeBuilder { return &treeBuilder{devs: make(map[string]*specDev)} }

func (b *treeBuilder) file(path, content string) {
	b.entries = append(b.entries, topologytest.Entry{Kind: topologytest.KindFile, Path: path, Data: []byte(content)})
}

// link makes a symlink at path pointing at the tree path to, relative to
// path's directory as the kernel and udev write them.
func (b *treeBuilder) link(path, to string) {
	rel, err := filepath.Rel(filepath.Dir(path), to)
	if err != nil {
		panic(err)
	}
	b.entries = append(b.entries, topologytest.Entry{Kind: topologytest.KindSymlink, Path: path, Target: rel})
}

func (b *treeBuilder) dir(path string) {
	b.entries = append(b.entries, topologytest.Entry{Kind: topologytest.KindDir, Path: path})
}

func (b *treeBuilder) add(d *specDev) *specDev {
	if b.devs[d.name] != nil {
		panic("duplicate device " + d.name)
	}
	if d.attrs == nil {
		d.attrs = make(map[string]string)
	}
	b.devs[d.name] = d
	b.order = append(b.order, d.name)
	return d
}

// busDevice links d's device/ to a bus device directory holding attrs,
// whose subsystem link points at subsystem (e.g. "sys/bus/virtio").
func (b *treeBuilder) busDevice(d *specDev, busDir, subsystem string, attrs map[string]string) {
	b.link(d.dir+"/device", busDir)
	b.busDir(busDir, subsystem, attrs)
}

func (b *treeBuilder) busDir(busDir, subsystem string, attrs map[string]string) {
	b.link(busDir+"/subsystem", subsystem)
	for k, v := range attrs {
		b.file(busDir+"/"+k, v)
	}
}

// virtio adds a virtio-blk disk on PCI slot slot. serial == nil leaves the
// serial attribute out (kernels before 4.19 had none).
func (b *treeBuilder) virtio(name, num string, slot int, sectors uint64, serial *string) *specDev {
	busDir := fmt.Sprintf("sys/devices/pci0000:00/0000:00:%02x.0/virtio%d", slot, slot-2)
	d := b.add(&specDev{name: name, num: num, dir: busDir + "/block/" + name, sectors: sectors})
	if serial != nil {
		// virtio-blk prints the serial without a newline.
		d.attrs["serial"] = *serial
	}
	b.busDevice(d, busDir, "sys/bus/virtio", map[string]string{
		"device": "0x0002\n", "vendor": "0x1af4\n", "features": "0010101001110000000000000000110010000000000000000000000000000000\n",
	})
	return d
}

// nvme adds an NVMe namespace. The controller pads its 20-byte serial and
// 40-byte model with spaces. With multipath the namespace's block device
// hangs off the NVMe subsystem (/sys/devices/virtual/nvme-subsystem), whose
// serial and model mirror the controller's.
func (b *treeBuilder) nvme(name, num string, slot, ctrl int, sectors uint64, serial, model string, multipath bool) *specDev {
	ctrlDir := fmt.Sprintf("sys/devices/pci0000:00/0000:00:%02x.0/nvme/nvme%d", slot, ctrl)
	ids := map[string]string{
		"serial":       fmt.Sprintf("%-20s\n", serial),
		"model":        fmt.Sprintf("%-40s\n", model),
		"firmware_rev": "1.0     \n",
	}
	b.busDir(ctrlDir, "sys/class/nvme", ids)
	if !multipath {
		d := b.add(&specDev{name: name, num: num, dir: ctrlDir + "/" + name, sectors: sectors})
		b.link(d.dir+"/device", ctrlDir)
		return d
	}
	subsysDir := fmt.Sprintf("sys/devices/virtual/nvme-subsystem/nvme-subsys%d", ctrl)
	d := b.add(&specDev{name: name, num: num, dir: subsysDir + "/" + name, sectors: sectors})
	ids["subsysnqn"] = "nqn.2019-10.com.alibaba:" + serial + "\n"
	b.busDevice(d, subsysDir, "sys/class/nvme-subsystem", ids)
	b.link(fmt.Sprintf("%s/nvme%d", subsysDir, ctrl), ctrlDir)
	return d
}

// xen adds a Xen paravirtual disk (vbd); Xen exposes no serial in sysfs.
func (b *treeBuilder) xen(name, num, vbd string, sectors uint64) *specDev {
	busDir := "sys/devices/vbd-" + vbd
	d := b.add(&specDev{name: name, num: num, dir: busDir + "/block/" + name, sectors: sectors})
	b.busDevice(d, busDir, "sys/bus/xen", map[string]string{"devtype": "vbd\n", "nodename": "device/vbd/" + vbd + "\n"})
	return d
}

// scsi adds a SCSI disk behind a virtio-scsi host; vpd is the raw VPD
// page 0x80 ("" leaves it out).
func (b *treeBuilder) scsi(name, num, hctl string, sectors uint64, vendor, model, vpd string) *specDev {
	busDir := "sys/devices/pci0000:00/0000:00:03.0/virtio0/host0/target0:0:" + strings.Split(hctl, ":")[2] + "/" + hctl
	d := b.add(&specDev{name: name, num: num, dir: busDir + "/block/" + name, sectors: sectors})
	attrs := map[string]string{"vendor": fmt.Sprintf("%-8s\n", vendor), "model": fmt.Sprintf("%-16s\n", model), "rev": "2.5+\n"}
	if vpd != "" {
		attrs["vpd_pg80"] = vpd
	}
	b.busDevice(d, busDir, "sys/bus/scsi", attrs)
	return d
}

// vpd80 encodes a VPD Unit Serial Number page.
func vpd80(serial string) string {
	return string([]byte{0, 0x80, byte(len(serial) >> 8), byte(len(serial))}) + serial
}

// part adds partition n of parent. The kernel inserts "p" between a disk
// name ending in a digit and the partition number.
func (b *treeBuilder) part(parent *specDev, n int, num string, start, sectors uint64) *specDev {
	name := fmt.Sprintf("%s%d", parent.name, n)
	if isDigit(parent.name[len(parent.name)-1]) {
		name = fmt.Sprintf("%sp%d", parent.name, n)
	}
	return b.add(&specDev{name: name, num: num, dir: parent.dir + "/" + name, sectors: sectors, partNo: n, start: start})
}

// dm adds device-mapper device dm-<n>.
func (b *treeBuilder) dm(n int, num, name, uuid string, sectors uint64, slaves ...string) *specDev {
	d := b.add(&specDev{name: fmt.Sprintf("dm-%d", n), num: num, dir: fmt.Sprintf("sys/devices/virtual/block/dm-%d", n), sectors: sectors, slaves: slaves})
	d.attrs["dm/name"] = name + "\n"
	d.attrs["dm/uuid"] = uuid + "\n"
	d.attrs["dm/suspended"] = "0\n"
	d.attrs["dm/use_blk_mq"] = "1\n"
	return d
}

// md adds an md array.
func (b *treeBuilder) md(name, num, level string, sectors uint64, slaves ...string) *specDev {
	d := b.add(&specDev{name: name, num: num, dir: "sys/devices/virtual/block/" + name, sectors: sectors, slaves: slaves})
	d.attrs["md/level"] = level + "\n"
	d.attrs["md/raid_disks"] = fmt.Sprintf("%d\n", len(slaves))
	d.attrs["md/array_state"] = "clean\n"
	d.attrs["md/metadata_version"] = "1.2\n"
	return d
}

// loop adds loop<n>; an empty backing file leaves it unbound (size 0).
func (b *treeBuilder) loop(n int, sectors uint64, backing string) *specDev {
	d := b.add(&specDev{name: fmt.Sprintf("loop%d", n), num: fmt.Sprintf("7:%d", n), dir: fmt.Sprintf("sys/devices/virtual/block/loop%d", n), sectors: sectors})
	if backing != "" {
		d.attrs["loop/backing_file"] = backing + "\n"
		d.attrs["loop/offset"] = "0\n"
		d.attrs["loop/sizelimit"] = "0\n"
		d.attrs["loop/autoclear"] = "1\n"
	}
	return d
}

// virtual adds a whole disk with no bus device, like zram.
func (b *treeBuilder) virtual(name, num string, sectors uint64) *specDev {
	return b.add(&specDev{name: name, num: num, dir: "sys/devices/virtual/block/" + name, sectors: sectors})
}

// btrfs registers a mounted btrfs filesystem over members.
func (b *treeBuilder) btrfs(fsid, label string, members ...*specDev) {
	base := "sys/fs/btrfs/" + fsid
	for _, m := range members {
		b.link(base+"/devices/"+m.name, m.dir)
	}
	b.file(base+"/label", label+"\n")
	b.file(base+"/metadata_uuid", fsid+"\n")
	b.file(base+"/nodesize", "16384\n")
	b.file(base+"/sectorsize", "4096\n")
	b.file("sys/fs/btrfs/features/free_space_tree", "0\n")
}

func (b *treeBuilder) mountinfo(lines ...string) {
	b.file("proc/self/mountinfo", strings.Join(lines, "\n")+"\n")
}

// byID adds a /dev/disk/by-id link to device name.
func (b *treeBuilder) byID(link, name string) { b.link("dev/disk/by-id/"+link, "dev/"+name) }

// devLink adds a /dev link such as mapper/vg-lv -> dm-0.
func (b *treeBuilder) devLink(path, name string) { b.link("dev/"+path, "dev/"+name) }

// build finishes the tree: attributes of every device, the class/block,
// block and dev/block links, and slaves/ with their mirror holders/.
func (b *treeBuilder) build() []topologytest.Entry {
	btrfsFeatures := false
	var out []topologytest.Entry
	for _, e := range b.entries {
		if e.Path == "sys/fs/btrfs/features/free_space_tree" {
			if btrfsFeatures {
				continue
			}
			btrfsFeatures = true
		}
		out = append(out, e)
	}
	b.entries = out
	for _, name := range b.order {
		d := b.devs[name]
		maj, min, _ := strings.Cut(d.num, ":")
		devtype := "disk"
		if d.partNo > 0 {
			devtype = "partition"
			b.file(d.dir+"/partition", fmt.Sprintf("%d\n", d.partNo))
			b.file(d.dir+"/start", fmt.Sprintf("%d\n", d.start))
		} else {
			b.link("sys/block/"+name, d.dir)
			b.dir(d.dir + "/slaves")
			b.file(d.dir+"/removable", boolAttr(d.removable))
		}
		b.file(d.dir+"/dev", d.num+"\n")
		b.file(d.dir+"/size", fmt.Sprintf("%d\n", d.sectors))
		b.file(d.dir+"/ro", boolAttr(d.ro))
		b.file(d.dir+"/uevent", fmt.Sprintf("MAJOR=%s\nMINOR=%s\nDEVNAME=%s\nDEVTYPE=%s\n", maj, min, name, devtype))
		b.dir(d.dir + "/holders")
		b.link(d.dir+"/subsystem", "sys/class/block")
		b.link("sys/class/block/"+name, d.dir)
		b.link("sys/dev/block/"+d.num, d.dir)
		for k, v := range d.attrs {
			b.file(d.dir+"/"+k, v)
		}
		for _, s := range d.slaves {
			sd := b.devs[s]
			if sd == nil {
				panic(name + ": unknown slave " + s)
			}
			b.link(d.dir+"/slaves/"+s, sd.dir)
			b.link(sd.dir+"/holders/"+name, d.dir)
		}
	}
	return b.entries
}

func boolAttr(v bool) string {
	if v {
		return "1\n"
	}
	return "0\n"
}

func ptr[T any](v T) *T { return &v }
