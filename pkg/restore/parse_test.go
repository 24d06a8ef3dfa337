package restore

import (
	"maps"
	"testing"
)

func TestParseBlkidExport(t *testing.T) {
	cases := []struct {
		in   string
		want map[string]string
	}{
		{"DEVNAME=/dev/loop3\nUUID=5d1c\nUUID_SUB=77aa\nBLOCK_SIZE=4096\nTYPE=btrfs\n",
			map[string]string{"DEVNAME": "/dev/loop3", "UUID": "5d1c", "UUID_SUB": "77aa", "BLOCK_SIZE": "4096", "TYPE": "btrfs"}},
		{"", map[string]string{}},
		{"garbage\n=x\nTYPE=xfs", map[string]string{"TYPE": "xfs"}},
		{"LABEL=a=b\n", map[string]string{"LABEL": "a=b"}},
	}
	for _, c := range cases {
		if got := parseBlkidExport([]byte(c.in)); !maps.Equal(got, c.want) {
			t.Errorf("parseBlkidExport(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestParseLogRoot(t *testing.T) {
	cases := []struct {
		in   string
		want string
		ok   bool
	}{
		{"superblock: bytenr=65536\nroot\t\t\t30441472\nlog_root\t\t0\nlog_root_transid (deprecated)\t0\n", "0", true},
		{"log_root\t\t\t30490624\n", "30490624", true},
		{"root 1\n", "", false},
		{"log_root\n", "", false},
	}
	for _, c := range cases {
		got, ok := parseLogRoot([]byte(c.in))
		if got != c.want || ok != c.ok {
			t.Errorf("parseLogRoot(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParsers(f *testing.F) {
	f.Add([]byte("TYPE=ext4\nUUID=x\n"))
	f.Add([]byte("log_root\t\t0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := parseBlkidExport(b)
		for k := range m {
			if k == "" {
				t.Fatal("empty key")
			}
		}
		if lr, ok := parseLogRoot(b); ok && lr == "" {
			t.Fatal("found an empty log_root")
		}
	})
}
