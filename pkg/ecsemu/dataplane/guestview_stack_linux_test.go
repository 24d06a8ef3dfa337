package dataplane

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/topology"
)

// An LVM volume striped over two of the view's disks appears in the view
// with its slaves renamed to the view's disks, and the disks name it as
// their holder, so the product finds the disks under a mount on it; an
// array standing partly on a disk outside the view is left out.
func TestGuestViewShowsStackedDevices(t *testing.T) {
	host := t.TempDir()
	put := func(rel, data string) {
		t.Helper()
		p := filepath.Join(host, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"loop7/holders/dm-0", "loop8/holders/dm-0", "loop8/holders/md127",
		"dm-0/slaves/loop7", "dm-0/slaves/loop8", "md127/slaves/loop8", "md127/slaves/sda"} {
		put(f, "")
	}
	put("dm-0/dev", "253:0\n")
	put("dm-0/size", "8192\n")
	put("dm-0/ro", "0\n")
	put("dm-0/dm/name", "vg-data\n")
	put("dm-0/dm/uuid", "LVM-0123456789abcdef\n")
	put("md127/dev", "9:127\n")
	put("md127/size", "8192\n")
	put("md127/md/level", "raid0\n")
	old := hostSysClassBlock
	hostSysClassBlock = host
	t.Cleanup(func() { hostSysClassBlock = old })

	w := &viewWriter{root: t.TempDir()}
	w.link("proc", "/proc")
	for i, vd := range []string{"vdb", "vdc"} {
		dir := viewDevices + "/virtio" + string(rune('0'+i)) + "/block/" + vd
		w.file(dir+"/dev", "7:"+string(rune('7'+i))+"\n")
		w.file(dir+"/size", "4096\n")
		w.file(dir+"/serial", "serial-"+vd)
		w.dir(dir + "/holders")
		w.dir(dir + "/slaves")
		w.link("sys/block/"+vd, "../devices/ecsemu-dataplane/virtio"+string(rune('0'+i))+"/block/"+vd)
		w.link("sys/class/block/"+vd, "../../devices/ecsemu-dataplane/virtio"+string(rune('0'+i))+"/block/"+vd)
	}
	w.addStacked(map[string]string{"loop7": "vdb", "loop8": "vdc"})
	if w.err != nil {
		t.Fatal(w.err)
	}
	topo, err := topology.New(w.root).Discover()
	if err != nil {
		t.Fatal(err)
	}
	dm := topo.Devices["dm-0"]
	if dm == nil {
		t.Fatalf("no dm-0 in the view: %v", topo.Devices)
	}
	if dm.Kind != topology.KindDM || dm.DMName != "vg-data" || dm.Dev != "253:0" || !slices.Equal(dm.Slaves, []string{"vdb", "vdc"}) {
		t.Errorf("dm-0 in the view: %+v", dm)
	}
	for _, vd := range []string{"vdb", "vdc"} {
		if d := topo.Devices[vd]; d == nil || !slices.Equal(d.Holders, []string{"dm-0"}) {
			t.Errorf("%s holders: %+v", vd, d)
		}
	}
	if topo.Devices["md127"] != nil {
		t.Error("md127 stands partly on a disk outside the view, yet it is in it")
	}
}
