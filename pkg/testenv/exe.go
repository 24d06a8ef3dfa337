package testenv

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// ExecutableCopy returns a new 0755 directory, removed when t ends, and a
// copy of the running test binary in it, for tests that run the binary as
// another user: go test builds in a 0700 directory that user cannot search.
func ExecutableCopy(t testing.TB) (dir, bin string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "ecssnap-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin = filepath.Join(dir, filepath.Base(exe))
	dst, err := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, bin
}
