package topology

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Mount is one line of /proc/self/mountinfo (see proc(5)).
type Mount struct {
	ID       int    `json:"id"`
	ParentID int    `json:"parent_id"`
	Dev      string `json:"dev"` // "major:minor" of the superblock; major 0 for btrfs and pseudo filesystems
	// Root is the directory of the filesystem seen at MountPoint: "/" for
	// an ordinary mount, the source directory for a bind mount, the
	// subvolume for a btrfs subvolume mount.
	Root           string   `json:"root"`
	MountPoint     string   `json:"mount_point"`
	Options        string   `json:"options"` // per-mount options, as the kernel escaped them
	OptionalFields []string `json:"optional_fields,omitempty"`
	FSType         string   `json:"fs_type"`
	Source         string   `json:"source"`
	SuperOptions   string   `json:"super_options"` // per-superblock options, as the kernel escaped them
	// ReadOnly is set when the mount or its superblock is read-only.
	ReadOnly bool `json:"read_only"`
	// Bind is set when this mount does not show its filesystem's root, or
	// shows a superblock an earlier line already mounted. A superblock can
	// have no mount with Bind false (btrfs mounted by subvolume, as Ubuntu
	// mounts /@ on /): to visit each filesystem once, use
	// Topology.SuperblockMounts rather than filtering on Bind.
	Bind bool `json:"bind"`

	// device is the block device holding the superblock, as resolved by
	// Discover; see Device.
	device string
}

// Device returns the kernel name of the block device holding the mount's
// superblock ("vda1", "dm-3"; for btrfs the device named as its source),
// or "" when the filesystem is not on a block device or the Mount did not
// come from Discover.
func (m Mount) Device() string { return m.device }

// mountFields is Mount without its methods, for the JSON encoding.
type mountFields Mount

type mountJSON struct {
	mountFields
	Device string `json:"device,omitempty"`
}

// MarshalJSON adds the resolved device (Device) to the exported fields.
func (m Mount) MarshalJSON() ([]byte, error) {
	return json.Marshal(mountJSON{mountFields: mountFields(m), Device: m.device})
}

// UnmarshalJSON restores what MarshalJSON wrote, device included, so a
// Topology saved as JSON answers DisksUnder like the one that was saved.
func (m *Mount) UnmarshalJSON(data []byte) error {
	var j mountJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*m = Mount(j.mountFields)
	m.device = j.Device
	return nil
}

// ParseMountInfo parses the contents of /proc/<pid>/mountinfo. It decodes
// the octal escapes the kernel writes for space, tab, newline and
// backslash (\040 \011 \012 \134) in the root, mount point, filesystem type
// and source; the option strings are kept as written, since their own
// escaping is per filesystem.
func ParseMountInfo(data []byte) ([]Mount, error) {
	var mounts []Mount
	seen := make(map[string]bool)
	for n := 1; len(data) > 0; n++ {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		if len(line) == 0 {
			continue
		}
		m, err := parseMountInfoLine(string(line))
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %d: %w", n, err)
		}
		// The first mount of a superblock in table order is the one it was
		// mounted at; later ones were bound or mounted again.
		m.Bind = m.Root != "/" || seen[m.Dev]
		seen[m.Dev] = true
		mounts = append(mounts, m)
	}
	return mounts, nil
}

// mountInfoFields is the number of fields before the optional ones.
const mountInfoFields = 6

func parseMountInfoLine(line string) (Mount, error) {
	f := strings.Split(line, " ")
	sep := -1
	for i := mountInfoFields; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 {
		return Mount{}, errors.New(`no " - " separator after the sixth field`)
	}
	if len(f)-sep-1 != 3 {
		return Mount{}, fmt.Errorf("want 3 fields after the separator, got %d", len(f)-sep-1)
	}
	var m Mount
	var err error
	if m.ID, err = parseMountID(f[0]); err != nil {
		return Mount{}, fmt.Errorf("mount ID: %w", err)
	}
	if m.ParentID, err = parseMountID(f[1]); err != nil {
		return Mount{}, fmt.Errorf("parent ID: %w", err)
	}
	major, minor, err := parseDevNumber(f[2])
	if err != nil {
		return Mount{}, err
	}
	m.Dev = fmt.Sprintf("%d:%d", major, minor)
	m.Root = unescapeOctal(f[3])
	m.MountPoint = unescapeOctal(f[4])
	if m.Root == "" {
		return Mount{}, errors.New("empty root")
	}
	if !strings.HasPrefix(m.MountPoint, "/") {
		return Mount{}, fmt.Errorf("mount point %q is not absolute", m.MountPoint)
	}
	m.Options = f[5]
	if sep > mountInfoFields {
		m.OptionalFields = f[mountInfoFields:sep]
	}
	m.FSType = unescapeOctal(f[sep+1])
	if m.FSType == "" {
		return Mount{}, errors.New("empty filesystem type")
	}
	// The source may legitimately be empty: mount(2) accepts "".
	m.Source = unescapeOctal(f[sep+2])
	m.SuperOptions = f[sep+3]
	m.ReadOnly = hasOption(m.Options, "ro") || hasOption(m.SuperOptions, "ro")
	return m, nil
}

func parseMountID(s string) (int, error) {
	n, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// unescapeOctal decodes the kernel's \ooo escapes. A backslash not
// followed by three octal digits is kept as is: the kernel never writes
// one, and guessing would be worse than showing it.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) && s[i+1] <= '3' {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }

// readMountInfo reads and parses /proc/self/mountinfo.
func (fs FS) readMountInfo() ([]Mount, error) {
	path := filepath.Join(fs.proc, procMountInfo)
	data, err := readProcFile(path)
	if err != nil {
		return nil, err
	}
	mounts, err := ParseMountInfo(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return mounts, nil
}
