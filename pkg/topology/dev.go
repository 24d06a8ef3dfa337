package topology

import (
	"fmt"
	"path/filepath"
	"strings"
)

// maxLinkHops bounds symlink chains under /dev (the kernel's own limit is 40).
const maxLinkHops = 16

// resolveDevPath names the block device behind a /dev path such as a
// mount's source: /dev/vdb, /dev/mapper/vg-lv (a udev link to ../dm-3, or
// a node dmsetup made itself where udev is absent), /dev/disk/by-uuid/....
// Links are followed inside the FS's /dev only, so a fixture tree cannot
// lead the reader out of itself. It returns "" when the path names no
// known device.
func (fs FS) resolveDevPath(src string, devs map[string]*BlockDevice, byDev map[string]string) string {
	rel, ok := strings.CutPrefix(src, "/dev/")
	if !ok {
		return ""
	}
	p := filepath.Join(fs.dev, rel)
	for range maxLinkHops {
		if !within(p, fs.dev) {
			return ""
		}
		target, ok, err := readLink(p)
		if err != nil || !ok {
			break
		}
		if filepath.IsAbs(target) {
			r, ok := strings.CutPrefix(target, "/dev/")
			if !ok {
				return ""
			}
			p = filepath.Join(fs.dev, r)
		} else {
			p = filepath.Join(filepath.Dir(p), target)
		}
	}
	if !within(p, fs.dev) {
		return ""
	}
	// A device node answers exactly, whatever it is called.
	if major, minor, ok := blockDeviceNumber(p); ok {
		if name := byDev[fmt.Sprintf("%d:%d", major, minor)]; name != "" {
			return name
		}
	}
	return deviceFromDevName(strings.TrimPrefix(p, fs.dev+string(filepath.Separator)), devs)
}

// deviceFromDevName maps a path relative to /dev to a device without
// touching the filesystem: "vdb" is vdb, "mapper/NAME" is the dm device
// called NAME. It serves trees without device nodes and hand-built
// topologies.
func deviceFromDevName(rel string, devs map[string]*BlockDevice) string {
	if d := devs[rel]; d != nil {
		return d.Name
	}
	if dmName, ok := strings.CutPrefix(rel, "mapper/"); ok {
		for _, d := range devs {
			if d.Kind == KindDM && d.DMName == dmName {
				return d.Name
			}
		}
	}
	return ""
}

func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+string(filepath.Separator))
}
