package topology

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unicode"
)

func TestParseDevNumber(t *testing.T) {
	tests := []struct {
		in       string
		maj, min uint32
		ok       bool
	}{
		{"253:0\n", 253, 0, true},
		{" 259:12 ", 259, 12, true},
		{"0:45", 0, 45, true},
		{"4095:1048575", 4095, 1048575, true},
		{"253", 0, 0, false},
		{"253:", 0, 0, false},
		{":0", 0, 0, false},
		{"a:b", 0, 0, false},
		{"-1:0", 0, 0, false},
		{"4294967296:0", 0, 0, false},
		{"1:2:3", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		maj, min, err := parseDevNumber(tt.in)
		if (err == nil) != tt.ok || maj != tt.maj || min != tt.min {
			t.Errorf("parseDevNumber(%q) = %d, %d, %v", tt.in, maj, min, err)
		}
	}
}

func TestParseSizeSectors(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"83886080\n", 40 << 30, true},
		{"0\n", 0, true},
		{"36028797018963967", 36028797018963967 * 512, true},
		{"36028797018963968", 0, false}, // the byte count overflows
		{"-1", 0, false},
		{"1.5", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSizeSectors(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSizeSectors(%q) = %d, %v", tt.in, got, err)
		}
	}
}

func TestParseFlag(t *testing.T) {
	for in, want := range map[string]error{"0\n": nil, "1": nil, " 1 \n": nil, "2": errors.New(""), "": errors.New(""), "true": errors.New("")} {
		if _, err := parseFlag(in); (err == nil) != (want == nil) {
			t.Errorf("parseFlag(%q) error = %v", in, err)
		}
	}
}

func TestCleanSerial(t *testing.T) {
	for in, want := range map[string]string{
		"bp1a1b2c3d4e5f6g7h8i":   "bp1a1b2c3d4e5f6g7h8i",
		"2ze0nvme0001        \n": "2ze0nvme0001",
		"bp1abc\x00\x00\x00":     "bp1abc",
		"  \n":                   "",
		"":                       "",
		"bad\x01serial":          "",
		"\xff\xfe":               "",
		"with inner space":       "with inner space",
		"S6EWNA0R812345\n":       "S6EWNA0R812345",
	} {
		if got := cleanSerial([]byte(in)); got != want {
			t.Errorf("cleanSerial(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseVPDPage80(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{vpd80("8vbscsi0000000001"), "8vbscsi0000000001", true},
		{vpd80("  padded  "), "padded", true},
		{vpd80(""), "", true},
		{"\x00\x83\x00\x04abcd", "", false}, // page 0x83, not 0x80
		{"\x00\x80\x00\x10short", "", false},
		{"\x00\x80", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := parseVPDPage80([]byte(tt.in))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseVPDPage80(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestDMKindFromUUID(t *testing.T) {
	for uuid, want := range map[string]string{
		lvmUUID("vg", "lv", ""):                          DMKindLVM,
		lvmUUID("vg", "pool", "-tpool"):                  DMKindThinPool,
		lvmUUID("vg", "pool", "-pool"):                   DMKindThinPool,
		lvmUUID("vg", "snap", "-cow"):                    DMKindLVM,
		"CRYPT-LUKS2-6f1d2c3b4a5948e7a1b2c3d4e5f60718-x": DMKindCrypt,
		"CRYPT-PLAIN-swap":                               DMKindCrypt,
		"mpath-3600a0b80001":                             DMKindMultipath,
		"part1-mpath-3600a0b80001":                       DMKindPartition,
		"":                                               DMKindOther,
		"stratis-1-private":                              DMKindOther,
	} {
		if got := dmKindFromUUID(uuid); got != want {
			t.Errorf("dmKindFromUUID(%q) = %q, want %q", uuid, got, want)
		}
	}
}

func TestCompareNames(t *testing.T) {
	want := []string{"dm-0", "dm-1", "dm-10", "loop0", "loop2", "loop10", "md127", "nvme2n1", "nvme10n1", "nvme10n1p1", "vd1", "vda", "vda1", "vda2", "vda10", "vdb", "vdz", "vdaa", "vdab", "xvda", "zram0", "zram00"}
	got := slices.Clone(want)
	for i := range got {
		j := (i * 7) % len(got)
		got[i], got[j] = got[j], got[i]
	}
	slices.SortFunc(got, compareNames)
	if !slices.Equal(got, want) {
		t.Errorf("sorted = %v\nwant     %v", got, want)
	}
	for _, a := range want {
		for _, b := range want {
			if (compareNames(a, b) == 0) != (a == b) || compareNames(a, b) != -compareNames(b, a) {
				t.Errorf("compareNames(%q, %q) inconsistent", a, b)
			}
		}
	}
}

func TestIsAbsent(t *testing.T) {
	pathErr := func(e error) error { return &fs.PathError{Op: "open", Path: "/sys/x", Err: e} }
	for err, want := range map[error]bool{
		pathErr(syscall.ENOENT):                           true,
		pathErr(syscall.EPERM):                            true, // root-only attributes
		pathErr(syscall.EACCES):                           true,
		pathErr(syscall.ENODEV):                           true, // device removed while reading
		pathErr(syscall.ENXIO):                            true,
		pathErr(syscall.EIO):                              false,
		pathErr(syscall.EINVAL):                           false,
		fmt.Errorf("wrapped: %w", pathErr(syscall.EPERM)): true,
	} {
		if got := isAbsent(err); got != want {
			t.Errorf("isAbsent(%v) = %v", err, got)
		}
	}
}

func TestReadAttrBounded(t *testing.T) {
	r := new(sysReader)
	readAttr := r.text
	listDir := r.list
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if got, ok, err := readAttr(write("small", "253:0\n")); got != "253:0\n" || !ok || err != nil {
		t.Errorf("small: %q %v %v", got, ok, err)
	}
	if got, ok, err := readAttr(write("page", strings.Repeat("x", maxAttrSize))); len(got) != maxAttrSize || !ok || err != nil {
		t.Errorf("one page: %d %v %v", len(got), ok, err)
	}
	if _, _, err := readAttr(write("big", strings.Repeat("x", maxAttrSize+1))); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("over a page: %v", err)
	}
	if _, ok, err := readAttr(filepath.Join(dir, "absent")); ok || err != nil {
		t.Errorf("absent: %v %v", ok, err)
	}
	// A directory opens but cannot be read: that is an error, not absence.
	if _, _, err := readAttr(dir); err == nil {
		t.Error("reading a directory: no error")
	}
	if names, ok, err := listDir(filepath.Join(dir, "small")); names != nil || ok || err != nil {
		t.Errorf("listDir of a file: %v %v %v", names, ok, err)
	}
}

// fuzzAttrs are the attributes FuzzSysfsAttr can replace with fuzz data,
// relative to a device directory, with the valid content they otherwise get.
func fuzzAttrs() []struct{ path, valid string } {
	return []struct{ path, valid string }{
		{"dev", "253:16\n"},
		{"size", "2048\n"},
		{"ro", "0\n"},
		{"removable", "0\n"},
		{"serial", "bp1fuzz"},
		{"device/serial", "bp1ctrl             \n"},
		{"device/model", "Alibaba Cloud Elastic Block Storage     \n"},
		{"device/vpd_pg80", vpd80("vpdserial")},
	}
}

// FuzzSysfsAttr feeds the data to every attribute parser, then writes a
// device directory whose attribute number attr holds it and reads that
// back with readDevice. Nothing may panic, errors must name the device,
// and what is accepted must be clean (serial and model trimmed and
// printable, size a whole number of sectors, dev in maj:min form).
func FuzzSysfsAttr(f *testing.F) {
	for i, a := range fuzzAttrs() {
		f.Add(uint8(i), []byte(a.valid))
	}
	f.Add(uint8(0), []byte("253:16:1\n"))
	f.Add(uint8(1), []byte("99999999999999999999\n"))
	f.Add(uint8(4), []byte("  bp1\x00x \n"))
	f.Add(uint8(7), []byte("\x00\x80\xff\xff"))
	// One directory per fuzzing process, rewritten for every input.
	dir := filepath.Join(f.TempDir(), "vdb")
	for _, a := range fuzzAttrs() {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, a.path)), 0o755); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.Symlink("../../../bus/virtio", filepath.Join(dir, "device", "subsystem")); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, attr uint8, data []byte) {
		checkParsers(t, data)
		which := int(attr) % len(fuzzAttrs())
		for i, a := range fuzzAttrs() {
			content := []byte(a.valid)
			if i == which {
				content = data
			}
			if err := os.WriteFile(filepath.Join(dir, a.path), content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		d, err := New("/nonexistent").readDevice(new(sysReader), "vdb", dir, "", func(string, ...any) {})
		if err != nil {
			if !strings.Contains(err.Error(), "vdb") {
				t.Fatalf("error does not name the device: %v", err)
			}
			return
		}
		if d == nil {
			t.Fatal("device with a dev attribute reported as vanished")
		}
		checkClean(t, d.Serial)
		checkClean(t, d.Model)
		if d.SizeBytes%sectorSize != 0 {
			t.Fatalf("size %d is not whole sectors", d.SizeBytes)
		}
		if _, _, err := parseDevNumber(d.Dev); err != nil || strings.TrimSpace(d.Dev) != d.Dev {
			t.Fatalf("dev %q", d.Dev)
		}
	})
}

// checkParsers runs the pure attribute parsers over data.
func checkParsers(t *testing.T, data []byte) {
	s := string(data)
	if maj, min, err := parseDevNumber(s); err == nil {
		if again, again2, err := parseDevNumber(fmt.Sprintf("%d:%d", maj, min)); err != nil || again != maj || again2 != min {
			t.Fatalf("parseDevNumber(%q) does not round-trip", s)
		}
	}
	if n, err := parseSizeSectors(s); err == nil && n%sectorSize != 0 {
		t.Fatalf("parseSizeSectors(%q) = %d", s, n)
	}
	parseFlag(s)
	checkClean(t, cleanSerial(data))
	if serial, err := parseVPDPage80(data); err == nil {
		checkClean(t, serial)
	}
	if k := dmKindFromUUID(s); k == "" {
		t.Fatalf("dmKindFromUUID(%q) is empty", s)
	}
}

func checkClean(t *testing.T, s string) {
	if s != strings.TrimSpace(s) || strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		t.Fatalf("unclean text %q", s)
	}
}
