package topology

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMountInfo(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Mount
	}{
		{
			name: "empty",
			in:   "",
		},
		{
			name: "no optional fields",
			in:   "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n",
			want: []Mount{{ID: 26, ParentID: 1, Dev: "254:0", Root: "/", MountPoint: "/", Options: "rw,relatime",
				FSType: "ext4", Source: "/dev/vda", SuperOptions: "rw,discard"}},
		},
		{
			name: "several optional fields, no final newline",
			in:   "61 22 253:32 / /data rw shared:32 master:7 propagate_from:3 - xfs /dev/vdc rw,attr2",
			want: []Mount{{ID: 61, ParentID: 22, Dev: "253:32", Root: "/", MountPoint: "/data", Options: "rw",
				OptionalFields: []string{"shared:32", "master:7", "propagate_from:3"}, FSType: "xfs", Source: "/dev/vdc", SuperOptions: "rw,attr2"}},
		},
		{
			name: "escapes decoded in root, mount point and source",
			in:   `64 22 253:16 /a\134b\040c /mnt/x\011y\012z rw - ext4 /dev/my\040disk rw` + "\n",
			want: []Mount{{ID: 64, ParentID: 22, Dev: "253:16", Root: `/a\b c`, MountPoint: "/mnt/x\ty\nz", Options: "rw",
				FSType: "ext4", Source: "/dev/my disk", SuperOptions: "rw", Bind: true}},
		},
		{
			name: "escape-like text that is not an escape is kept",
			in:   `1 0 0:1 / /a\9b\04 rw - tmpfs t\ rw` + "\n",
			want: []Mount{{ID: 1, Dev: "0:1", Root: "/", MountPoint: `/a\9b\04`, Options: "rw", FSType: "tmpfs", Source: `t\`, SuperOptions: "rw"}},
		},
		{
			name: "empty source is allowed",
			in:   "30 22 0:50 / /mnt/t rw - tmpfs  rw\n",
			want: []Mount{{ID: 30, ParentID: 22, Dev: "0:50", Root: "/", MountPoint: "/mnt/t", Options: "rw", FSType: "tmpfs", SuperOptions: "rw"}},
		},
		{
			name: "read-only by mount or by superblock; second mount of a superblock is a bind",
			in: "40 22 253:16 / /a ro,relatime - ext4 /dev/vdb rw\n" +
				"41 22 253:16 / /b rw,relatime - ext4 /dev/vdb rw\n" +
				"42 22 253:32 / /c rw - ext4 /dev/vdc ro,errors=remount-ro\n",
			want: []Mount{
				{ID: 40, ParentID: 22, Dev: "253:16", Root: "/", MountPoint: "/a", Options: "ro,relatime", FSType: "ext4", Source: "/dev/vdb", SuperOptions: "rw", ReadOnly: true},
				{ID: 41, ParentID: 22, Dev: "253:16", Root: "/", MountPoint: "/b", Options: "rw,relatime", FSType: "ext4", Source: "/dev/vdb", SuperOptions: "rw", Bind: true},
				{ID: 42, ParentID: 22, Dev: "253:32", Root: "/", MountPoint: "/c", Options: "rw", FSType: "ext4", Source: "/dev/vdc", SuperOptions: "ro,errors=remount-ro", ReadOnly: true},
			},
		},
		{
			name: "nsfs root is not a path",
			in:   "600 28 0:4 net:[4026532441] /run/netns/a rw shared:250 - nsfs nsfs rw\n",
			want: []Mount{{ID: 600, ParentID: 28, Dev: "0:4", Root: "net:[4026532441]", MountPoint: "/run/netns/a", Options: "rw",
				OptionalFields: []string{"shared:250"}, FSType: "nsfs", Source: "nsfs", SuperOptions: "rw", Bind: true}},
		},
		{
			name: "blank lines are skipped",
			in:   "\n1 0 0:1 / / rw - rootfs rootfs rw\n\n",
			want: []Mount{{ID: 1, Dev: "0:1", Root: "/", MountPoint: "/", Options: "rw", FSType: "rootfs", Source: "rootfs", SuperOptions: "rw"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMountInfo([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseMountInfoMalformed(t *testing.T) {
	good := "26 1 254:0 / / rw - ext4 /dev/vda rw\n"
	tests := []struct {
		name, in, wantErr string
	}{
		{"no separator", "26 1 254:0 / / rw ext4 /dev/vda rw\n", "line 1: no \" - \" separator"},
		{"separator too early", "26 1 254:0 / - rw ext4 /dev/vda rw\n", "line 1: no \" - \" separator"},
		{"missing super options", "26 1 254:0 / / rw - ext4 /dev/vda\n", "want 3 fields after the separator, got 2"},
		{"extra field after separator", "26 1 254:0 / / rw - ext4 /dev/vda rw x\n", "got 4"},
		{"bad mount ID", "x 1 254:0 / / rw - ext4 /dev/vda rw\n", "mount ID"},
		{"negative parent", "26 -1 254:0 / / rw - ext4 /dev/vda rw\n", "parent ID"},
		{"bad device number", "26 1 254-0 / / rw - ext4 /dev/vda rw\n", "want major:minor"},
		{"huge major", "26 1 99999999999:0 / / rw - ext4 /dev/vda rw\n", "major"},
		{"relative mount point", "26 1 254:0 / mnt rw - ext4 /dev/vda rw\n", "not absolute"},
		{"empty fs type", "26 1 254:0 / / rw -  /dev/vda rw\n", "empty filesystem type"},
		{"double space shifts fields", "26  1 254:0 / / rw - ext4 /dev/vda rw\n", "line 1"},
		{"truncated", "26 1 254:0\n", "line 1"},
		{"error names the line", good + good + "garbage\n", "line 3:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMountInfo([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestUnescapeOctal(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:         "plain",
		`\040`:          " ",
		`a\011b\012c`:   "a\tb\nc",
		`\134\134`:      `\\`,
		`\400`:          `\400`, // beyond a byte: not an escape the kernel writes
		`\12`:           `\12`,
		`end\`:          `end\`,
		`\0401`:         " 1",
		`\303\251t\303`: "\u00e9t\xc3",
	} {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseMountInfo checks that no input panics, that accepted lines keep
// their invariants, and that a mount point survives escaping: re-escaping
// the decoded fields and parsing again gives the same mounts.
func FuzzParseMountInfo(f *testing.F) {
	f.Add([]byte("26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"))
	f.Add([]byte(`64 22 253:16 /back\134slash /mnt/my\040disk\011x rw - ext4 /dev/vdb rw` + "\n"))
	f.Add([]byte("60 22 0:45 /@snap /data/.snapshots rw - btrfs /dev/vdb rw,subvol=/@snap\n61 60 0:45 / /x ro - btrfs /dev/vdc rw\n"))
	f.Add([]byte("1 0 0:1 / / rw - rootfs  rw"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mounts, err := ParseMountInfo(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "mountinfo line ") {
				t.Fatalf("error without a line number: %v", err)
			}
			return
		}
		var b strings.Builder
		for _, m := range mounts {
			if !strings.HasPrefix(m.MountPoint, "/") || m.FSType == "" || m.Root == "" {
				t.Fatalf("accepted an invalid mount: %+v", m)
			}
			if _, _, err := parseDevNumber(m.Dev); err != nil {
				t.Fatalf("accepted dev %q: %v", m.Dev, err)
			}
			b.WriteString(formatMountInfoLine(m))
		}
		again, err := ParseMountInfo([]byte(b.String()))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", b.String(), err)
		}
		if !reflect.DeepEqual(again, mounts) {
			t.Fatalf("round trip changed the mounts:\n%+v\n%+v", mounts, again)
		}
	})
}

// formatMountInfoLine writes m the way the kernel does, escaping with
// octal what mountinfo cannot hold.
func formatMountInfoLine(m Mount) string {
	esc := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == ' ' || c == '\t' || c == '\n' || c == '\\' {
				b.WriteString(`\` + string(rune('0'+c>>6)) + string(rune('0'+c>>3&7)) + string(rune('0'+c&7)))
				continue
			}
			b.WriteByte(c)
		}
		return b.String()
	}
	f := []string{itoa(m.ID), itoa(m.ParentID), m.Dev, esc(m.Root), esc(m.MountPoint), m.Options}
	f = append(f, m.OptionalFields...)
	f = append(f, "-", esc(m.FSType), esc(m.Source), m.SuperOptions)
	return strings.Join(f, " ") + "\n"
}
