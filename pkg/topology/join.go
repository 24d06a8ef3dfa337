package topology

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
)

// CloudDisk is what Join needs to know about one disk of the instance from
// the cloud inventory (DescribeDisks). The caller converts from the API.
type CloudDisk struct {
	ID          string `json:"id"`
	Serial      string `json:"serial,omitempty"`   // DescribeDisks SerialNumber; empty for disks created before 2020-06-10
	Category    string `json:"category,omitempty"` // cloud_essd, cloud_efficiency, local_ssd_pro, ...
	Type        string `json:"type,omitempty"`     // system or data
	SizeGiB     int    `json:"size_gib"`
	MultiAttach bool   `json:"multi_attach,omitempty"`
}

// JoinOptions tune Join.
type JoinOptions struct {
	// MetadataSerials maps guest serials to disk IDs as the metadata
	// service lists them (meta-data/disks/<serial>/id).
	MetadataSerials map[string]string
	// DeviceOverrides maps local device names to disk IDs, bypassing serial
	// matching. It is a test seam, so root tests can map loop devices to
	// emulator disks, and Join refuses it unless AllowDeviceOverrides is
	// also set. Nothing in production sets either.
	DeviceOverrides      map[string]string
	AllowDeviceOverrides bool
	// Logger receives a warning for every mapping made by a weak rule.
	// Nil discards.
	Logger *slog.Logger
}

// ErrDeviceOverridesDisabled is returned by Join when DeviceOverrides is
// set without AllowDeviceOverrides.
var ErrDeviceOverridesDisabled = errors.New("device overrides are a test seam and are not enabled")

// MatchMethod says how a cloud disk was matched to its local device.
type MatchMethod string

const (
	MatchSerial   MatchMethod = "serial"    // DescribeDisks SerialNumber equals the guest serial
	MatchMetadata MatchMethod = "metadata"  // the metadata service's disks/<serial>/id names the disk
	MatchIDPrefix MatchMethod = "id-prefix" // disk ID is "d-" + guest serial: a guess, flagged
	MatchOverride MatchMethod = "override"  // JoinOptions.DeviceOverrides (tests only)
)

// Reason says why a disk is not mapped, or not snapshottable once mapped.
type Reason string

const (
	ReasonNoSerial      Reason = "no-serial"       // the disk has no serial number to match on
	ReasonNoLocalDevice Reason = "no-local-device" // no local disk carries the cloud disk's serial
	ReasonLocalDisk     Reason = "local-disk"      // a local (ephemeral) disk: not a cloud disk, no snapshots
	ReasonLoopDevice    Reason = "loop-device"     // backed by a file, not a cloud disk
	ReasonVirtualDevice Reason = "virtual-device"  // no bus device (zram and the like)
	ReasonUnknownSerial Reason = "unknown-serial"  // a serial that matches no disk of the instance
	ReasonConflict      Reason = "conflict"        // an ambiguous match: one serial, several candidates
)

// DiskMapping is one cloud disk and its local device. Reason is empty when
// the disk is mapped and nothing the join knows stops a snapshot.
type DiskMapping struct {
	Disk    CloudDisk   `json:"disk"`
	Device  string      `json:"device,omitempty"`
	Method  MatchMethod `json:"method,omitempty"`
	Reason  Reason      `json:"reason,omitempty"`
	Detail  string      `json:"detail,omitempty"`
	Warning string      `json:"warning,omitempty"`
}

// LocalDisk is a local whole disk that is not a snapshottable cloud disk.
type LocalDisk struct {
	Device string `json:"device"`
	Serial string `json:"serial,omitempty"`
	Reason Reason `json:"reason"`
	Detail string `json:"detail"`
	DiskID string `json:"disk_id,omitempty"` // the inventory entry it matched, for local disks
}

// Mapping is the result of Join: every cloud disk in the order given, every
// local whole disk left over in natural order, and the warnings.
type Mapping struct {
	Disks    []DiskMapping `json:"disks"`
	Unmapped []LocalDisk   `json:"unmapped,omitempty"`
	Warnings []string      `json:"warnings,omitempty"`
}

// ByDevice returns the mapping of the cloud disk on local device dev.
func (m *Mapping) ByDevice(dev string) (DiskMapping, bool) {
	for _, d := range m.Disks {
		if d.Device == dev && dev != "" {
			return d, true
		}
	}
	return DiskMapping{}, false
}

// ByDiskID returns the mapping of cloud disk id.
func (m *Mapping) ByDiskID(id string) (DiskMapping, bool) {
	for _, d := range m.Disks {
		if d.Disk.ID == id {
			return d, true
		}
	}
	return DiskMapping{}, false
}

// ebsNVMeModel is the model string of cloud disks attached over NVMe (it
// appears in their by-id links); other NVMe models are local SSDs.
const ebsNVMeModel = "Alibaba Cloud Elastic Block Storage"

// virtioSerialMax is the size of virtio-blk's ID field: a longer disk ID
// suffix arrives truncated.
const virtioSerialMax = 20

// Join matches the local whole disks of t with the cloud inventory. Each
// local disk's serial is looked up, in order, among the DescribeDisks
// serials, in the metadata service's serial -> ID table, and only then as
// "d-"+serial, a guess that is flagged with a warning in the result and the
// log. Every pass sees only what earlier passes left, so a guess never
// takes a disk a real serial match would have claimed.
func Join(t *Topology, disks []CloudDisk, opts JoinOptions) (*Mapping, error) {
	if t == nil {
		return nil, errors.New("join: no topology")
	}
	if len(opts.DeviceOverrides) > 0 && !opts.AllowDeviceOverrides {
		return nil, fmt.Errorf("join: %d device override(s) given: %w", len(opts.DeviceOverrides), ErrDeviceOverridesDisabled)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	j := &joiner{
		m:        &Mapping{Disks: make([]DiskMapping, len(disks))},
		byID:     make(map[string]int, len(disks)),
		bySerial: make(map[string][]int),
		taken:    make(map[string]int),
		conflict: make(map[string]string),
		log:      log,
	}
	for i, d := range disks {
		if d.ID == "" {
			return nil, fmt.Errorf("join: inventory entry %d has no disk ID", i)
		}
		if _, dup := j.byID[d.ID]; dup {
			return nil, fmt.Errorf("join: disk %s listed twice in the inventory", d.ID)
		}
		j.byID[d.ID] = i
		j.m.Disks[i].Disk = d
		if s := strings.TrimSpace(d.Serial); s != "" {
			j.bySerial[s] = append(j.bySerial[s], i)
		}
	}
	if err := j.applyOverrides(t, opts.DeviceOverrides); err != nil {
		return nil, err
	}
	local := t.Disks()
	for _, pass := range []MatchMethod{MatchSerial, MatchMetadata, MatchIDPrefix} {
		for _, d := range local {
			if _, done := j.taken[d.Name]; done || d.Serial == "" {
				continue
			}
			j.match(d, pass, j.candidates(d, pass, disks, opts.MetadataSerials))
		}
	}
	j.explain(local)
	return j.m, nil
}

// joiner carries Join's working state.
type joiner struct {
	m        *Mapping
	byID     map[string]int    // disk ID -> index in m.Disks
	bySerial map[string][]int  // cloud serial -> indexes
	taken    map[string]int    // local device -> index of its disk
	conflict map[string]string // local device -> why its match was refused
	log      *slog.Logger
}

func (j *joiner) applyOverrides(t *Topology, overrides map[string]string) error {
	for _, dev := range slices.Sorted(maps.Keys(overrides)) {
		id := overrides[dev]
		if d := t.Devices[dev]; d == nil || !d.IsWholeDisk() {
			return fmt.Errorf("join: device override %s=%s: %s is not a whole disk of this machine", dev, id, dev)
		}
		i, ok := j.byID[id]
		if !ok {
			return fmt.Errorf("join: device override %s=%s: disk %s is not in the inventory", dev, id, id)
		}
		if prev := j.m.Disks[i].Device; prev != "" {
			return fmt.Errorf("join: device overrides map both %s and %s to disk %s", prev, dev, id)
		}
		j.assign(dev, i, MatchOverride, "")
		j.log.Warn("disk mapped by device override (test seam)", "disk", id, "device", dev)
	}
	return nil
}

// candidates returns the inventory indexes one rule offers for device d.
func (j *joiner) candidates(d *BlockDevice, pass MatchMethod, disks []CloudDisk, imds map[string]string) []int {
	switch pass {
	case MatchSerial:
		return j.bySerial[d.Serial]
	case MatchMetadata:
		if i, ok := j.byID[strings.TrimSpace(imds[d.Serial])]; ok {
			return []int{i}
		}
	case MatchIDPrefix:
		var out []int
		for i, c := range disks {
			exact := c.ID == "d-"+d.Serial
			truncated := d.Transport == TransportVirtio && len(d.Serial) == virtioSerialMax &&
				strings.HasPrefix(c.ID, "d-"+d.Serial)
			if exact || truncated {
				out = append(out, i)
			}
		}
		return out
	}
	return nil
}

// match assigns d to the single free candidate, or records why not.
func (j *joiner) match(d *BlockDevice, pass MatchMethod, cands []int) {
	var free []int
	for _, i := range cands {
		if prev := j.m.Disks[i].Device; prev != "" {
			j.conflict[d.Name] = fmt.Sprintf("serial %s also matches disk %s (by %s), which is already mapped to %s",
				d.Serial, j.m.Disks[i].Disk.ID, pass, prev)
			continue
		}
		free = append(free, i)
	}
	switch {
	case len(free) == 1:
		delete(j.conflict, d.Name)
		warning := ""
		if pass == MatchIDPrefix {
			warning = fmt.Sprintf("disk %s mapped to %s only because its ID is \"d-\" + the serial %s; neither DescribeDisks nor the metadata service confirmed it",
				j.m.Disks[free[0]].Disk.ID, d.Name, d.Serial)
			j.m.Warnings = append(j.m.Warnings, warning)
			j.log.Warn("disk mapped by the ID prefix rule", "disk", j.m.Disks[free[0]].Disk.ID, "device", d.Name, "serial", d.Serial)
		}
		j.assign(d.Name, free[0], pass, warning)
	case len(free) > 1:
		ids := make([]string, len(free))
		for k, i := range free {
			ids[k] = j.m.Disks[i].Disk.ID
		}
		j.conflict[d.Name] = fmt.Sprintf("serial %s matches several disks by %s: %s", d.Serial, pass, strings.Join(ids, ", "))
	}
}

func (j *joiner) assign(dev string, i int, how MatchMethod, warning string) {
	dm := &j.m.Disks[i]
	dm.Device, dm.Method, dm.Warning = dev, how, warning
	j.taken[dev] = i
}

// explain gives every unmapped cloud disk and every local disk that is not
// a snapshottable cloud disk its reason.
func (j *joiner) explain(local []*BlockDevice) {
	localSerials := make(map[string][]string)
	for _, d := range local {
		if d.Serial != "" {
			localSerials[d.Serial] = append(localSerials[d.Serial], d.Name)
		}
	}
	for i := range j.m.Disks {
		dm := &j.m.Disks[i]
		switch {
		case dm.Device != "" && isLocalCategory(dm.Disk.Category):
			dm.Reason = ReasonLocalDisk
			dm.Detail = fmt.Sprintf("category %s is a local disk; local disks cannot be snapshotted", dm.Disk.Category)
		case dm.Device != "":
		case strings.TrimSpace(dm.Disk.Serial) == "":
			dm.Reason = ReasonNoSerial
			dm.Detail = "attached, but the disk has no serial number (disks created before 2020-06-10 have none), so its device in the guest cannot be identified"
		case len(localSerials[strings.TrimSpace(dm.Disk.Serial)]) > 0:
			dm.Reason = ReasonConflict
			dm.Detail = fmt.Sprintf("local disk(s) %s report serial %s, but another inventory disk claims it too",
				strings.Join(localSerials[strings.TrimSpace(dm.Disk.Serial)], ", "), strings.TrimSpace(dm.Disk.Serial))
		default:
			dm.Reason = ReasonNoLocalDevice
			dm.Detail = fmt.Sprintf("no local disk reports serial %s", strings.TrimSpace(dm.Disk.Serial))
		}
	}
	for _, d := range local {
		ld := LocalDisk{Device: d.Name, Serial: d.Serial}
		if i, ok := j.taken[d.Name]; ok {
			dm := j.m.Disks[i]
			if dm.Reason != ReasonLocalDisk {
				continue
			}
			ld.Reason, ld.Detail, ld.DiskID = ReasonLocalDisk, dm.Detail, dm.Disk.ID
			j.m.Unmapped = append(j.m.Unmapped, ld)
			continue
		}
		switch {
		case d.Kind == KindLoop:
			ld.Reason = ReasonLoopDevice
			ld.Detail = "a loop device"
			if d.BackingFile != "" {
				ld.Detail += " backed by " + d.BackingFile
			}
		case d.Transport == TransportOther:
			ld.Reason = ReasonVirtualDevice
			ld.Detail = "a virtual block device without a bus device, not a cloud disk"
		case d.Serial == "":
			ld.Reason = ReasonNoSerial
			ld.Detail = "the disk reports no serial number: a cloud disk created before 2020-06-10, or not a cloud disk"
		case j.conflict[d.Name] != "":
			ld.Reason = ReasonConflict
			ld.Detail = j.conflict[d.Name]
		case d.Transport == TransportNVMe && d.Model != "" && d.Model != ebsNVMeModel:
			ld.Reason = ReasonLocalDisk
			ld.Detail = fmt.Sprintf("NVMe model %q is not %q: a local disk", d.Model, ebsNVMeModel)
		default:
			ld.Reason = ReasonUnknownSerial
			ld.Detail = fmt.Sprintf("serial %s matches no disk of the instance", d.Serial)
		}
		j.m.Unmapped = append(j.m.Unmapped, ld)
	}
}

// isLocalCategory reports the categories of local (instance-store) disks,
// which DescribeDisks lists but snapshots cannot copy.
func isLocalCategory(category string) bool {
	return strings.HasPrefix(category, "local_") || strings.HasPrefix(category, "ephemeral")
}
