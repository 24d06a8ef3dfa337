// Package topologytest stores the fixture trees of package topology (a
// copy of the parts of /sys, /proc and /dev that topology reads) as plain
// text archives, and unpacks them for tests.
//
// The trees cannot be committed as they are: sysfs paths contain colons
// ("0000:00:05.0", "/sys/dev/block/253:0") and symlinks, and Go module zips
// reject the former and drop the latter, so a module holding them could not
// be fetched through a proxy. Like prometheus/procfs, which keeps its trees
// in a text archive for the same reason, the archives are unpacked into a
// temporary directory by each test.
//
// The format is line oriented, one entry per header line, entries in any
// order, '#' and empty lines ignored between entries:
//
//	dir PATH
//	link PATH TARGET
//	file PATH N        followed by exactly N lines: the file's content
//	file PATH N noeol  the same, without the last line's newline (virtio-blk
//	                   writes its serial attribute so)
//	hexfile PATH HEX   content in hexadecimal: anything but printable text
//
// PATH is relative and clean; neither PATH nor TARGET may contain spaces.
// scripts/capture-topology writes the same format.
package topologytest

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Kind is the type of an archive entry.
type Kind string

const (
	KindDir     Kind = "dir"
	KindFile    Kind = "file"
	KindSymlink Kind = "link"
)

// Entry is one directory, regular file or symbolic link of a tree.
type Entry struct {
	Kind   Kind
	Path   string // relative, slash separated
	Data   []byte // File content
	Target string // Symlink target, as written
}

// Parse reads an archive.
func Parse(data []byte) ([]Entry, error) {
	var out []Entry
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i := 0; i < len(lines); i++ {
		n := i + 1
		line, ok := strings.CutSuffix(lines[i], "\n")
		if !ok {
			return nil, fmt.Errorf("line %d: missing final newline", n)
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, " ")
		var e Entry
		switch {
		case f[0] == "dir" && len(f) == 2:
			e = Entry{Kind: KindDir, Path: f[1]}
		case f[0] == "link" && len(f) == 3 && f[2] != "":
			e = Entry{Kind: KindSymlink, Path: f[1], Target: f[2]}
		case f[0] == "file" && (len(f) == 3 || len(f) == 4 && f[3] == "noeol"):
			count, err := strconv.Atoi(f[2])
			if err != nil || count < 0 || count > len(lines)-i-1 || len(f) == 4 && count == 0 {
				return nil, fmt.Errorf("line %d: bad line count %q", n, f[2])
			}
			content := strings.Join(lines[i+1:i+1+count], "")
			if len(f) == 4 {
				var ok bool
				if content, ok = strings.CutSuffix(content, "\n"); !ok {
					return nil, fmt.Errorf("line %d: noeol file lacks its final line", n)
				}
			}
			e = Entry{Kind: KindFile, Path: f[1], Data: []byte(content)}
			i += count
		case f[0] == "hexfile" && len(f) == 3:
			b, err := hex.DecodeString(f[2])
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			e = Entry{Kind: KindFile, Path: f[1], Data: b}
		default:
			return nil, fmt.Errorf("line %d: want dir, link, file or hexfile entry, got %q", n, line)
		}
		if err := checkPath(e.Path); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func checkPath(p string) error {
	if p == "" || p != path.Clean(p) || path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Errorf("path %q is not relative and clean", p)
	}
	return nil
}

// Format writes entries as an archive, sorted by path so that equal trees
// give equal bytes. Files of printable ASCII are written as text, others
// in hex.
func Format(entries []Entry) ([]byte, error) {
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	var b bytes.Buffer
	b.WriteString("# ecssnap topology fixture: see pkg/topology/topologytest\n")
	for _, e := range sorted {
		if err := checkPath(e.Path); err != nil {
			return nil, err
		}
		if strings.ContainsAny(e.Path, " \n") || strings.ContainsAny(e.Target, " \n") {
			return nil, fmt.Errorf("%s: spaces and newlines cannot be archived", e.Path)
		}
		switch e.Kind {
		case KindDir:
			fmt.Fprintf(&b, "dir %s\n", e.Path)
		case KindSymlink:
			if e.Target == "" {
				return nil, fmt.Errorf("%s: empty link target", e.Path)
			}
			fmt.Fprintf(&b, "link %s %s\n", e.Path, e.Target)
		case KindFile:
			switch {
			case !isPrintable(e.Data):
				fmt.Fprintf(&b, "hexfile %s %s\n", e.Path, hex.EncodeToString(e.Data))
			case len(e.Data) == 0 || e.Data[len(e.Data)-1] == '\n':
				fmt.Fprintf(&b, "file %s %d\n", e.Path, bytes.Count(e.Data, []byte{'\n'}))
				b.Write(e.Data)
			default:
				fmt.Fprintf(&b, "file %s %d noeol\n", e.Path, bytes.Count(e.Data, []byte{'\n'})+1)
				b.Write(e.Data)
				b.WriteByte('\n')
			}
		default:
			return nil, errors.New(e.Path + ": unknown entry kind " + string(e.Kind))
		}
	}
	return b.Bytes(), nil
}

func isPrintable(b []byte) bool {
	for _, c := range b {
		if c != '\n' && c != '\t' && (c < 0x20 || c > 0x7e) {
			return false
		}
	}
	return true
}
