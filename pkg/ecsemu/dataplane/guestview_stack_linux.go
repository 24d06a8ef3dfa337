package dataplane

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// hostSysClassBlock is where the host lists its block devices; a test
// points it at a tree of its own.
var hostSysClassBlock = "/sys/class/block"

// viewStacked is where the view's device-mapper and md devices live, as
// the kernel keeps them under /sys/devices/virtual/block.
const viewStacked = "sys/devices/virtual/block"

// stackedAttrs are the attributes of a stacked device the view copies:
// what a reader needs to tell an LVM volume or an md array and its size.
var stackedAttrs = []string{"dev", "size", "ro", "removable", "dm/name", "dm/uuid", "md/level"}

// addStacked adds the devices the host built on the view's disks (an LVM
// volume, an md array, and what stands on those), under their kernel
// names, with slaves and holders renamed to the view's: the view then
// shows the whole stack down to the virtio disks, as a guest's sysfs
// does. A device standing partly on disks outside the view is left out.
// named maps host names to the view's (loopN -> vdX) and grows.
func (w *viewWriter) addStacked(named map[string]string) {
	queue := make([]string, 0, len(named))
	for host := range named {
		queue = append(queue, host)
	}
	slices.Sort(queue)
	for len(queue) > 0 {
		host := queue[0]
		queue = queue[1:]
		holders, _ := os.ReadDir(filepath.Join(hostSysClassBlock, host, "holders"))
		for _, h := range holders {
			name := h.Name()
			if _, done := named[name]; done {
				continue
			}
			slaves, err := os.ReadDir(filepath.Join(hostSysClassBlock, name, "slaves"))
			if err != nil || len(slaves) == 0 {
				continue
			}
			var viewSlaves []string
			for _, s := range slaves {
				if v, ok := named[s.Name()]; ok {
					viewSlaves = append(viewSlaves, v)
				}
			}
			if len(viewSlaves) != len(slaves) {
				continue // not all ours, or its other slaves come later
			}
			w.stackedDevice(name, viewSlaves)
			named[name] = name
			queue = append(queue, name)
		}
	}
}

// stackedDevice writes one stacked device and links it from its slaves.
func (w *viewWriter) stackedDevice(name string, slaves []string) {
	dir := viewStacked + "/" + name
	for _, attr := range stackedAttrs {
		b, err := os.ReadFile(filepath.Join(hostSysClassBlock, name, attr))
		if err == nil {
			w.file(dir+"/"+attr, string(b))
		}
	}
	w.dir(dir + "/holders")
	w.dir(dir + "/slaves")
	for _, s := range slaves {
		w.link(dir+"/slaves/"+s, "../../../../../block/"+s)
		w.link("sys/block/"+s+"/holders/"+name, "../../../../../virtual/block/"+name)
	}
	w.link("sys/block/"+name, "../devices/virtual/block/"+name)
	w.link("sys/class/block/"+name, "../../devices/virtual/block/"+name)
	if dev, err := os.ReadFile(filepath.Join(hostSysClassBlock, name, "dev")); err == nil {
		w.link("sys/dev/block/"+strings.TrimSpace(string(dev)), "../../devices/virtual/block/"+name)
	}
}
