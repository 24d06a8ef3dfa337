package dataplane

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// The guest view is a tree for ECSSNAP_ROOT in which the attached disks
// look like the virtio disks of a cloud instance: /sys/block/vdX with the
// disk's serial and the loop device's number, /sys/dev/block/<maj:min>
// pointing at it, btrfs member lists renamed to match, the LVM volumes
// and md arrays built on them (see addStacked), udev's
// /dev/disk/by-id/virtio-<serial> links, and /proc a link to the real one,
// so mountinfo is the reader's live table and the agent freezes the real
// mounts. That table names the loop devices (/dev/loopN) where a guest's
// names its disks, and btrfs is known by that source alone (its device
// number is anonymous), so the view's /dev/loopN links to the disk's name.
// Only the data plane's disks appear in it.

// hostSysFSBtrfs is where the host lists mounted btrfs filesystems' members.
const hostSysFSBtrfs = "/sys/fs/btrfs"

// viewDevices is the fake bus directory the view's disks hang under.
const viewDevices = "sys/devices/ecsemu-dataplane"

// GuestDisk is one disk as the guest view shows it.
type GuestDisk struct {
	DiskID string
	Name   string // vdb, vdc, ...
	Serial string
	Device string // the loop device behind it
}

// WriteGuestView (re)builds the view at root for the attached disks among
// serials (disk ID -> serial). Disks are named vdb, vdc, ... in disk ID
// order. The view is a picture of the moment: rebuild it after mounting or
// unmounting a btrfs filesystem on the disks, and after attach or detach.
func (p *Plane) WriteGuestView(root string, serials map[string]string) ([]GuestDisk, error) {
	var disks []GuestDisk
	ids := make([]string, 0, len(serials))
	for id := range serials {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		dev := p.Device(id)
		if dev == "" {
			continue
		}
		disks = append(disks, GuestDisk{DiskID: id, Name: "vd" + string(rune('b'+len(disks))), Serial: serials[id], Device: dev})
	}
	tmp := root + ".new"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := buildView(tmp, disks); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("guest view: %w", err)
	}
	old := root + ".old"
	_ = os.RemoveAll(old)
	if err := os.Rename(root, old); err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("guest view: %w", err)
	}
	if err := os.Rename(tmp, root); err != nil {
		return nil, fmt.Errorf("guest view: %w", err)
	}
	_ = os.RemoveAll(old)
	return disks, nil
}

func buildView(root string, disks []GuestDisk) error {
	var w viewWriter
	w.root = root
	w.link("proc", "/proc")
	for _, d := range []string{"sys/block", "sys/class/block", "sys/dev/block", "sys/fs/btrfs", "dev/disk/by-id"} {
		w.dir(d)
	}
	loopToName := map[string]string{}
	for i, d := range disks {
		var st unix.Stat_t
		if err := unix.Stat(d.Device, &st); err != nil {
			return fmt.Errorf("stat %s: %w", d.Device, err)
		}
		size, err := os.ReadFile(filepath.Join("/sys/class/block", filepath.Base(d.Device), "size"))
		if err != nil {
			return err
		}
		majmin := fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		bus := fmt.Sprintf("%s/virtio%d", viewDevices, i)
		dir := bus + "/block/" + d.Name
		w.link(bus+"/subsystem", "../../bus/virtio")
		w.file(dir+"/dev", majmin+"\n")
		w.file(dir+"/size", string(size))
		w.file(dir+"/serial", d.Serial)
		w.file(dir+"/ro", "0\n")
		w.file(dir+"/removable", "0\n")
		w.dir(dir + "/holders")
		w.dir(dir + "/slaves")
		w.link(dir+"/device", "../..")
		w.link(dir+"/subsystem", "../../../../../class/block")
		w.link("sys/block/"+d.Name, "../devices/ecsemu-dataplane/virtio"+fmt.Sprint(i)+"/block/"+d.Name)
		w.link("sys/class/block/"+d.Name, "../../devices/ecsemu-dataplane/virtio"+fmt.Sprint(i)+"/block/"+d.Name)
		w.link("sys/dev/block/"+majmin, "../../devices/ecsemu-dataplane/virtio"+fmt.Sprint(i)+"/block/"+d.Name)
		if d.Serial != "" {
			w.link("dev/disk/by-id/virtio-"+d.Serial, "../../"+d.Name)
		}
		w.link("dev/"+filepath.Base(d.Device), d.Name)
		loopToName[filepath.Base(d.Device)] = d.Name
	}
	w.addStacked(maps.Clone(loopToName))
	// btrfs lists its members by kernel name: rename ours, drop the rest.
	fsids, _ := os.ReadDir(hostSysFSBtrfs)
	for _, fsid := range fsids {
		members, err := os.ReadDir(filepath.Join(hostSysFSBtrfs, fsid.Name(), "devices"))
		if err != nil {
			continue
		}
		for _, m := range members {
			if name, ok := loopToName[m.Name()]; ok {
				w.link("sys/fs/btrfs/"+fsid.Name()+"/devices/"+name, "../../../../block/"+name)
			}
		}
	}
	return w.err
}

// viewWriter writes a tree, keeping the first error.
type viewWriter struct {
	root string
	err  error
}

func (w *viewWriter) path(rel string) string { return filepath.Join(w.root, rel) }

func (w *viewWriter) dir(rel string) {
	if w.err == nil {
		w.err = os.MkdirAll(w.path(rel), 0o755)
	}
}

func (w *viewWriter) file(rel, data string) {
	w.dir(filepath.Dir(rel))
	if w.err == nil {
		w.err = os.WriteFile(w.path(rel), []byte(data), 0o644)
	}
}

func (w *viewWriter) link(rel, target string) {
	w.dir(filepath.Dir(rel))
	if w.err == nil && !strings.Contains(rel, "..") {
		w.err = os.Symlink(target, w.path(rel))
	}
}
