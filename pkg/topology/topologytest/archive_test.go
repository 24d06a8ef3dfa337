package topologytest

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := "# comment\n\n" +
		"dir sys/devices/virtual/block/dm-0/holders\n" +
		"link sys/block/vda ../devices/pci0000:00/0000:00:05.0/virtio3/block/vda\n" +
		"file sys/block/vda/dev 1\n253:0\n" +
		"file proc/self/mountinfo 2\nfile looks like a header 1\n# and a comment\n" +
		"file sys/block/vda/serial 1 noeol\nbp1abc\n" +
		"file sys/block/vda/empty 0\n" +
		"hexfile sys/block/sda/device/vpd_pg80 00800003616263\n"
	want := []Entry{
		{Kind: KindDir, Path: "sys/devices/virtual/block/dm-0/holders"},
		{Kind: KindSymlink, Path: "sys/block/vda", Target: "../devices/pci0000:00/0000:00:05.0/virtio3/block/vda"},
		{Kind: KindFile, Path: "sys/block/vda/dev", Data: []byte("253:0\n")},
		{Kind: KindFile, Path: "proc/self/mountinfo", Data: []byte("file looks like a header 1\n# and a comment\n")},
		{Kind: KindFile, Path: "sys/block/vda/serial", Data: []byte("bp1abc")},
		{Kind: KindFile, Path: "sys/block/vda/empty", Data: []byte{}},
		{Kind: KindFile, Path: "sys/block/sda/device/vpd_pg80", Data: []byte{0, 0x80, 0, 3, 'a', 'b', 'c'}},
	}
	got, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestParseMalformed(t *testing.T) {
	for name, in := range map[string]string{
		"unknown entry":       "fifo x\n",
		"missing target":      "link a\n",
		"empty target":        "link a \n",
		"count beyond end":    "file a 2\nonly one\n",
		"negative count":      "file a -1\n",
		"bad hex":             "hexfile a 0g\n",
		"absolute path":       "dir /etc\n",
		"escaping path":       "dir ../etc\n",
		"unclean path":        "dir a//b\n",
		"no final newline":    "dir a",
		"noeol without lines": "file a 0 noeol\n",
		"bad flag":            "file a 1 eol\nx\n",
		"space in path":       "dir a b c\n",
	} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.HasPrefix(err.Error(), "line ") {
			t.Errorf("%s: error without a line number: %v", name, err)
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	entries := []Entry{
		{Kind: KindFile, Path: "z/text", Data: []byte("a\nb\n")},
		{Kind: KindFile, Path: "z/noeol", Data: []byte("a\nb")},
		{Kind: KindFile, Path: "z/binary", Data: []byte{0, 1, 2, 0xff}},
		{Kind: KindFile, Path: "z/utf8", Data: []byte("caf\u00e9\n")},
		{Kind: KindFile, Path: "z/empty", Data: []byte{}},
		{Kind: KindSymlink, Path: "a/link", Target: "../z/text"},
		{Kind: KindDir, Path: "a/dir"},
	}
	data, err := Format(entries)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Format(back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, again) {
		t.Errorf("not stable:\n%s\n%s", data, again)
	}
	if len(back) != len(entries) || back[0].Path != "a/dir" {
		t.Errorf("entries not sorted by path: %q", back)
	}
	for _, bad := range []Entry{
		{Kind: KindFile, Path: "/abs"},
		{Kind: KindSymlink, Path: "l", Target: ""},
		{Kind: KindSymlink, Path: "l", Target: "a b"},
		{Kind: "fifo", Path: "f"},
	} {
		if _, err := Format([]Entry{bad}); err == nil {
			t.Errorf("Format(%+v): no error", bad)
		}
	}
}

func TestWriteTree(t *testing.T) {
	root := t.TempDir()
	entries := []Entry{
		{Kind: KindFile, Path: "sys/devices/x/dev", Data: []byte("253:0\n")},
		{Kind: KindSymlink, Path: "sys/block/x", Target: "../devices/x"},
		{Kind: KindDir, Path: "sys/devices/x/holders"},
	}
	if err := WriteTree(root, entries); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "sys/block/x/dev"))
	if err != nil || string(data) != "253:0\n" {
		t.Errorf("through the link: %q, %v", data, err)
	}
	if err := WriteTree(root, entries[:1]); err == nil {
		t.Error("overwriting an existing file: no error")
	}
}
