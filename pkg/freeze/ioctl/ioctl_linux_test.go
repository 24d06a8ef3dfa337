package ioctl_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/freeze/ioctl"
	"github.com/ecssnap/ecssnap/pkg/loopfs"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// openOwned opens the mount point of a loop filesystem made for this test,
// after checking that it is one.
func openOwned(t *testing.T, fs *loopfs.FS) int {
	t.Helper()
	if err := fs.CheckOwned(); err != nil {
		t.Fatalf("safety check: %v", err)
	}
	fd, err := syscall.Open(fs.MountPoint, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = ioctl.Thaw(fd)
		syscall.Close(fd)
	})
	return fd
}

func TestFreezeThawResults(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "losetup", "mkfs.ext4")
	scratch := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fs, err := loopfs.Create(ctx, "ext4", scratch, loopfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := fs.Destroy(); err != nil {
			t.Error(err)
		}
	})
	fd := openOwned(t, fs)

	if err := ioctl.Freeze(fd); err != nil {
		t.Fatalf("freeze: %v", err)
	}
	err = ioctl.Freeze(fd)
	if !errors.Is(err, ioctl.ErrAlreadyFrozen) || !errors.Is(err, syscall.EBUSY) {
		t.Errorf("second freeze: %v, want ErrAlreadyFrozen wrapping EBUSY", err)
	}
	if err := ioctl.Thaw(fd); err != nil {
		t.Fatalf("thaw: %v", err)
	}
	err = ioctl.Thaw(fd)
	if !errors.Is(err, ioctl.ErrNotFrozen) || !errors.Is(err, syscall.EINVAL) {
		t.Errorf("second thaw: %v, want ErrNotFrozen wrapping EINVAL", err)
	}

	// tmpfs has no freeze support.
	tmp := filepath.Join(scratch, "tmpfs")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("ecssnap-test", tmp, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(tmp, 0) })
	tfd, err := syscall.Open(tmp, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(tfd)
	if err := ioctl.Freeze(tfd); !errors.Is(err, ioctl.ErrNotSupported) {
		t.Errorf("freeze tmpfs: %v, want ErrNotSupported", err)
	}

	// A regular file accepts the ioctl too (it acts on the superblock);
	// a pipe does not know it at all.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if err := ioctl.Freeze(int(r.Fd())); !errors.Is(err, ioctl.ErrNotSupported) {
		t.Errorf("freeze pipe: %v, want ErrNotSupported", err)
	}
}
