package topologytest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// WriteTree creates entries below root. Parent directories are created as
// needed; an existing entry is an error, so two specs cannot silently
// disagree about one path.
func WriteTree(root string, entries []Entry) error {
	for _, e := range entries {
		if err := checkPath(e.Path); err != nil {
			return err
		}
		p := filepath.Join(root, filepath.FromSlash(e.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		var err error
		switch e.Kind {
		case KindDir:
			err = os.MkdirAll(p, 0o755)
		case KindFile:
			err = writeNew(p, e.Data)
		case KindSymlink:
			err = os.Symlink(e.Target, p)
		default:
			err = fmt.Errorf("%s: unknown entry kind %q", e.Path, e.Kind)
		}
		if err != nil {
			return fmt.Errorf("fixture tree: %w", err)
		}
	}
	return nil
}

func writeNew(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Dir returns pkg/topology/testdata in the source tree, where the fixture
// archives (NAME.tree) live.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// Extract unpacks the fixture archive Dir()/name.tree into a temporary
// directory and returns it, ready for topology.New.
func Extract(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(Dir(), name+".tree"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := Parse(data)
	if err != nil {
		t.Fatalf("%s.tree: %v", name, err)
	}
	root := t.TempDir()
	if err := WriteTree(root, entries); err != nil {
		t.Fatalf("%s.tree: %v", name, err)
	}
	return root
}
