// Package loopfstest gives tests real ext4 filesystems on loop devices,
// gated the way pkg/testenv gates root-only tests. It lives apart from
// testenv because loopfs imports topology, whose tests import testenv.
package loopfstest

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/loopfs"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// Ext4 creates n ext4 filesystems on loop devices in one new temporary
// directory, mounted at fs0, fs1, ... inside it, and destroys them when the
// test ends. It skips (or fails under CI) unless the test runs as root and
// ext4 can be made here.
func Ext4(t testing.TB, n int) []*loopfs.FS {
	t.Helper()
	testenv.RequireRoot(t)
	if err := loopfs.Available("ext4"); err != nil {
		testenv.Unavailable(t, err.Error())
	}
	dir := t.TempDir()
	fss := make([]*loopfs.FS, 0, n)
	for i := range n {
		fs, err := loopfs.Create(context.Background(), "ext4", dir, loopfs.Options{MountPoint: filepath.Join(dir, fmt.Sprintf("fs%d", i))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fs.Destroy() })
		fss = append(fss, fs)
	}
	return fss
}
