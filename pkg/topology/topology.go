package topology

import (
	"fmt"
	"slices"
)

// Kind says what a block device is.
type Kind string

const (
	KindDisk      Kind = "disk"      // a whole disk presented by a driver (virtio, NVMe, xen, SCSI, zram)
	KindPartition Kind = "partition" // a partition of another block device
	KindDM        Kind = "dm"        // a device-mapper device (LVM, dm-crypt, multipath)
	KindMD        Kind = "md"        // an md software RAID array
	KindLoop      Kind = "loop"      // a loop device; a whole disk for closure purposes
)

// Transport says how a whole disk reaches the guest.
type Transport string

const (
	TransportVirtio Transport = "virtio"
	TransportNVMe   Transport = "nvme"
	TransportXen    Transport = "xen"
	TransportSCSI   Transport = "scsi"
	TransportOther  Transport = "other" // virtual devices (dm, md, loop, zram) and unknown buses
)

// Device-mapper kinds, from the dm/uuid prefix (see dmKindFromUUID).
const (
	DMKindLVM       = "lvm"
	DMKindThin      = "thin"
	DMKindThinPool  = "thin-pool"
	DMKindCrypt     = "crypt"
	DMKindMultipath = "multipath"
	DMKindPartition = "partition"
	DMKindOther     = "other"
)

// BlockDevice is one entry of /sys/class/block. Absent attributes are zero
// values: an empty Serial means the device reports none.
type BlockDevice struct {
	Name        string    `json:"name"`
	Dev         string    `json:"dev"` // "major:minor"
	Kind        Kind      `json:"kind"`
	Transport   Transport `json:"transport"`
	Serial      string    `json:"serial,omitempty"`
	Model       string    `json:"model,omitempty"`
	SizeBytes   uint64    `json:"size_bytes"`
	ReadOnly    bool      `json:"read_only"`
	Removable   bool      `json:"removable"`
	Parent      string    `json:"parent,omitempty"`     // partitions: the device they divide
	Partitions  []string  `json:"partitions,omitempty"` // natural order
	Slaves      []string  `json:"slaves,omitempty"`     // devices this one is built on (dm, md)
	Holders     []string  `json:"holders,omitempty"`    // devices built directly on this one
	DMName      string    `json:"dm_name,omitempty"`
	DMUUID      string    `json:"dm_uuid,omitempty"`
	DMKind      string    `json:"dm_kind,omitempty"`
	MDLevel     string    `json:"md_level,omitempty"`
	BackingFile string    `json:"backing_file,omitempty"` // loop devices
	ByID        []string  `json:"by_id,omitempty"`        // /dev/disk/by-id link names
}

// IsWholeDisk reports whether d is the bottom of a storage stack: a disk
// or a loop device.
func (d *BlockDevice) IsWholeDisk() bool {
	return d.Kind == KindDisk || d.Kind == KindLoop
}

// Topology is one snapshot of the machine's block devices and mounts. It is
// not safe to modify after Discover: the lookups DisksUnder, MountsOn and
// Holders use an index built once from the exported fields. A Topology
// built by hand (in tests) works too, with lookups computed on each call.
type Topology struct {
	Devices map[string]*BlockDevice `json:"devices"`
	Mounts  []Mount                 `json:"mounts"`
	// Btrfs maps each mounted btrfs filesystem's UUID to its member
	// devices, from /sys/fs/btrfs/<fsid>/devices.
	Btrfs map[string][]string `json:"btrfs,omitempty"`
	// Warnings lists what Discover could not read and skipped.
	Warnings []string `json:"warnings,omitempty"`

	idx *index
}

// Disks returns the whole disks (disks and loop devices) in natural name
// order (vda, vdb, ..., vdz, vdaa; nvme2n1 before nvme10n1). Devices of size
// zero are left out: an unbound loop device or an empty drive holds no data.
func (t *Topology) Disks() []*BlockDevice {
	var out []*BlockDevice
	for _, d := range t.Devices {
		if d.IsWholeDisk() && d.SizeBytes > 0 {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b *BlockDevice) int { return compareNames(a.Name, b.Name) })
	return out
}

// Discover reads the block devices, the btrfs filesystems, /dev/disk/by-id
// and the mount table, and indexes them.
func (fs FS) Discover() (*Topology, error) {
	t := &Topology{}
	warn := func(format string, args ...any) {
		t.Warnings = append(t.Warnings, fmt.Sprintf(format, args...))
	}
	r := new(sysReader)
	devs, err := fs.readBlockDevices(r, warn)
	if err != nil {
		return nil, err
	}
	t.Devices = devs
	if t.Btrfs, err = fs.readBtrfs(r); err != nil {
		return nil, err
	}
	byID, err := fs.readDiskByID(r)
	if err != nil {
		return nil, err
	}
	for name, links := range byID {
		if d := devs[name]; d != nil {
			d.ByID = links
		}
	}
	if t.Mounts, err = fs.readMountInfo(); err != nil {
		return nil, err
	}
	fs.resolveMountDevices(t, warn)
	// Warnings come from several passes and workers; sorted, equal machines
	// give equal results.
	slices.Sort(t.Warnings)
	t.idx = buildIndex(t)
	return t, nil
}
