package topology

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Pure parsers for the contents of sysfs attributes. Each takes exactly
// what a read returned (trailing newline included) so the fuzz target can
// feed them arbitrary bytes.

// sectorSize is the unit of the sysfs "size" attribute: always 512 bytes,
// whatever the device's logical block size.
const sectorSize = 512

// parseDevNumber parses a "maj:min" dev attribute.
func parseDevNumber(s string) (major, minor uint32, err error) {
	s = strings.TrimSpace(s)
	maj, min, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("device number %q: want major:minor", s)
	}
	a, err := strconv.ParseUint(maj, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("device number %q: major: %w", s, err)
	}
	b, err := strconv.ParseUint(min, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("device number %q: minor: %w", s, err)
	}
	return uint32(a), uint32(b), nil
}

// parseSizeSectors converts the "size" attribute (512-byte sectors) to bytes.
func parseSizeSectors(s string) (uint64, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	if n > math.MaxUint64/sectorSize {
		return 0, fmt.Errorf("size %q: overflows a byte count", s)
	}
	return n * sectorSize, nil
}

// parseFlag parses the 0/1 attributes (ro, removable).
func parseFlag(s string) (bool, error) {
	switch strings.TrimSpace(s) {
	case "0":
		return false, nil
	case "1":
		return true, nil
	}
	return false, fmt.Errorf("flag %q: want 0 or 1", s)
}

// cleanSerial strips the padding devices put around serials: NVMe pads
// the 20-byte field with spaces, virtio-blk may leave NULs when the ID
// fills its 20 bytes. A serial holding control or non-UTF-8 bytes after
// that is garbage and treated as absent: matching on it could only mislead.
func cleanSerial(b []byte) string {
	s := strings.TrimFunc(string(b), func(r rune) bool {
		return unicode.IsSpace(r) || r == 0
	})
	if !utf8.ValidString(s) {
		return ""
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return ""
		}
	}
	return s
}

// cleanText trims a free-text attribute such as a model name.
func cleanText(b []byte) string { return cleanSerial(b) }

var errNotPage80 = errors.New("not a VPD unit serial number page")

// parseVPDPage80 extracts the serial from a SCSI VPD page 0x80 (Unit Serial
// Number) as exposed in device/vpd_pg80: a 4-byte header whose second byte
// is the page code and whose bytes 2-3 give the length of the serial.
func parseVPDPage80(b []byte) (string, error) {
	if len(b) < 4 || b[1] != 0x80 {
		return "", errNotPage80
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if 4+n > len(b) {
		return "", fmt.Errorf("VPD page 0x80: length %d beyond the %d bytes read", n, len(b)-4)
	}
	return cleanSerial(b[4 : 4+n]), nil
}

// dmKindFromUUID classifies a device-mapper device by the UUID prefix its
// creator sets (dm/uuid): LVM uses "LVM-<vg uuid><lv uuid>[-suffix]",
// cryptsetup "CRYPT-<type>-...", multipathd "mpath-". LVM marks the
// hidden thin-pool devices with the suffixes "-tpool" (the pool target) and
// "-pool" (the visible read-only pool LV). Thin volumes carry no suffix;
// the caller recognises them by their slave being a "-tpool" device.
func dmKindFromUUID(uuid string) string {
	switch {
	case strings.HasPrefix(uuid, "LVM-"):
		if strings.HasSuffix(uuid, "-tpool") || strings.HasSuffix(uuid, "-pool") {
			return DMKindThinPool
		}
		return DMKindLVM
	case strings.HasPrefix(uuid, "CRYPT-"):
		return DMKindCrypt
	case strings.HasPrefix(uuid, "mpath-"):
		return DMKindMultipath
	case strings.HasPrefix(uuid, "part"):
		// kpartx partitions of a multipath map: "part1-mpath-...".
		return DMKindPartition
	}
	return DMKindOther
}

// isThinPoolTarget reports whether uuid names LVM's thin-pool target
// device, the one thin volumes list as their slave.
func isThinPoolTarget(uuid string) bool {
	return strings.HasPrefix(uuid, "LVM-") && strings.HasSuffix(uuid, "-tpool")
}
