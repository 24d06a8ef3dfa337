package daemon

import (
	"strings"
	"testing"
)

func TestBlockUevent(t *testing.T) {
	ev := func(fields ...string) []byte { return []byte(strings.Join(fields, "\x00")) }
	for _, c := range []struct {
		name string
		msg  []byte
		want bool
	}{
		{"virtio disk attached", ev("add@/devices/pci0000:00/0000:00:06.0/virtio3/block/vdb", "ACTION=add", "SUBSYSTEM=block", "DEVNAME=vdb", "DEVTYPE=disk"), true},
		{"nvme resized", ev("change@/devices/.../nvme1n1", "ACTION=change", "SUBSYSTEM=block", "DEVNAME=nvme1n1", "DEVTYPE=disk"), true},
		{"partition", ev("add@/devices/.../vdb/vdb1", "ACTION=add", "SUBSYSTEM=block", "DEVNAME=vdb1", "DEVTYPE=partition"), false},
		{"loop device", ev("change@/devices/virtual/block/loop7", "ACTION=change", "SUBSYSTEM=block", "DEVNAME=loop7", "DEVTYPE=disk"), false},
		{"not block", ev("add@/devices/virtual/net/veth0", "ACTION=add", "SUBSYSTEM=net", "INTERFACE=veth0"), false},
		{"empty", nil, false},
	} {
		if got := blockUevent(c.msg); got != c.want {
			t.Errorf("%s: blockUevent = %v, want %v", c.name, got, c.want)
		}
	}
}
