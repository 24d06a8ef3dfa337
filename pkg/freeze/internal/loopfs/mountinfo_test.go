package loopfs

import (
	"reflect"
	"testing"
)

func TestParseMountInfo(t *testing.T) {
	data := `26 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
42 26 0:38 / /tmp/with\040space rw,relatime shared:1 - btrfs /dev/loop0 rw,space_cache=v2
43 26 7:1 / /tmp/back\134slash rw - ext4 /dev/loop1 rw
`
	got, err := parseMountInfo(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []Mount{
		{Dev: "254:0", MountPoint: "/", Options: "rw,relatime", FSType: "ext4", Source: "/dev/vda"},
		{Dev: "0:38", MountPoint: "/tmp/with space", Options: "rw,relatime", FSType: "btrfs", Source: "/dev/loop0"},
		{Dev: "7:1", MountPoint: `/tmp/back\slash`, Options: "rw", FSType: "ext4", Source: "/dev/loop1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{"26 1 254:0 / /\n", "26 1 254:0 / / rw - ext4\n", "garbage\n"} {
		if _, err := parseMountInfo(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		p, dir string
		want   bool
	}{
		{"/tmp/x/a", "/tmp/x", true},
		{"/tmp/x/a/b", "/tmp/x", true},
		{"/tmp/x", "/tmp/x", false},
		{"/tmp/xy", "/tmp/x", false},
		{"/", "/tmp/x", false},
		{"/tmp/x/../y", "/tmp/x", false},
	} {
		if got := within(tc.p, tc.dir); got != tc.want {
			t.Errorf("within(%q, %q) = %v", tc.p, tc.dir, got)
		}
	}
}
