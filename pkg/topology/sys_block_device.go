package topology

import (
	"path/filepath"
	"strings"
)

// readDiskDevice fills a whole disk's transport, serial and model from
// /sys/block/<disk> and the bus device it links to as device/. Failures
// here only cost information, so they become warnings.
func (fs FS) readDiskDevice(r *sysReader, d *BlockDevice, sd sysDir, hasSerial bool, warn func(string, ...any)) {
	subsystem, _, err := readLink(sd.join("device/subsystem"))
	if err != nil {
		warn("%s: %v", d.Name, err)
	}
	// Without a subsystem link (a tree that lost it) the name decides.
	d.Transport = transportOf(filepath.Base(subsystem), d.Name)
	d.Serial = readSerial(r, sd, d.Name, hasSerial, warn)
	if b, ok, err := r.attrIn(sd, "device/model"); err != nil {
		warn("%s: %v", d.Name, err)
	} else if ok {
		d.Model = cleanText(b)
	}
}

// transportOf maps the bus (the base name of device/subsystem) to a
// transport. An NVMe namespace's device is its controller (subsystem
// "nvme"), or with native multipath the NVMe subsystem ("nvme-subsystem").
// When the bus is unknown the name decides.
func transportOf(bus, name string) Transport {
	switch bus {
	case "virtio":
		return TransportVirtio
	case "nvme", "nvme-subsystem":
		return TransportNVMe
	case "xen", "xen-backend":
		return TransportXen
	case "scsi":
		return TransportSCSI
	}
	switch {
	case strings.HasPrefix(name, "vd"):
		return TransportVirtio
	case strings.HasPrefix(name, "nvme"):
		return TransportNVMe
	case strings.HasPrefix(name, "xvd"):
		return TransportXen
	case strings.HasPrefix(name, "sd"):
		return TransportSCSI
	}
	return TransportOther
}

// readSerial tries where each bus keeps the serial: virtio-blk in the
// disk's own serial attribute (empty when the host gave none), NVMe on
// the controller or subsystem (device/serial, space padded), SCSI in the
// Unit Serial Number VPD page. Xen block devices expose none in sysfs.
func readSerial(r *sysReader, sd sysDir, name string, hasSerial bool, warn func(string, ...any)) string {
	for _, rel := range []string{"serial", "device/serial"} {
		if rel == "serial" && !hasSerial {
			continue
		}
		b, ok, err := r.attrIn(sd, rel)
		if err != nil {
			warn("%s: %v", name, err)
			continue
		}
		if s := cleanSerial(b); ok && s != "" {
			return s
		}
	}
	b, ok, err := r.attrIn(sd, "device/vpd_pg80")
	if err != nil {
		warn("%s: %v", name, err)
		return ""
	}
	if !ok {
		return ""
	}
	s, err := parseVPDPage80(b)
	if err != nil {
		warn("%s: device/vpd_pg80: %v", name, err)
	}
	return s
}
