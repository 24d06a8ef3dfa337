package dataplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// requireHost skips (fails under CI) unless this machine can serve FUSE
// and make loop devices.
func requireHost(t *testing.T) {
	t.Helper()
	testenv.RequireRoot(t)
	for _, dev := range []string{"/dev/fuse", loopControl} {
		if _, err := os.Stat(dev); err != nil {
			testenv.Unavailable(t, dev+" is missing: the data plane needs FUSE and loop devices")
		}
	}
	testenv.RequireTool(t, "mkfs.ext4", "e2fsck")
}

func servedPlane(t *testing.T) *Plane {
	t.Helper()
	p, err := New(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Serve(); err != nil {
		p.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		assertNothingLeft(t, p.Dir())
	})
	return p
}

// assertNothingLeft fails if a FUSE mount or a loop device of dir remains.
func assertNothingLeft(t *testing.T, dir string) {
	t.Helper()
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), dir) {
		t.Errorf("a mount below %s is left:\n%s", dir, mi)
	}
	// Autoclear runs when the last opener closes; give it a moment.
	deadline := time.Now().Add(2 * time.Second)
	for {
		left := ourLoops(t, dir)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("loop devices left: %v", left)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ourLoops lists loop devices whose backing file lies below dir.
func ourLoops(t *testing.T, dir string) []string {
	t.Helper()
	var left []string
	files, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && strings.HasPrefix(strings.TrimSpace(string(b)), dir) {
			left = append(left, f)
		}
	}
	return left
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// A real filesystem on a data-plane disk: what was fsync'd before a
// capture is in a disk made from it, what was written after is not, and
// the clone mounts cleanly beside the original.
func TestRootFilesystemOnDataPlane(t *testing.T) {
	requireHost(t)
	p := servedPlane(t)
	ctx := context.Background()
	if err := p.AddDisk("d-root1", 256<<20); err != nil {
		t.Fatal(err)
	}
	dev, err := p.Attach("d-root1")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := p.Attach("d-root1"); again != dev {
		t.Fatalf("second Attach gave %s, want %s", again, dev)
	}
	run(t, "mkfs.ext4", "-q", "-F", dev)
	mnt := t.TempDir()
	if err := syscall.Mount(dev, mnt, "ext4", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer syscall.Unmount(mnt, 0)
	before := bytes.Repeat([]byte("before "), 100000)
	writeSync(t, filepath.Join(mnt, "before"), before)

	s, err := p.Capture("s-root1", "d-root1")
	if err != nil {
		t.Fatal(err)
	}
	writeSync(t, filepath.Join(mnt, "after"), []byte("after"))
	if err := p.CreateDisk(ctx, "d-clone1", s.ID); err != nil {
		t.Fatal(err)
	}
	cdev, err := p.Attach("d-clone1")
	if err != nil {
		t.Fatal(err)
	}
	cmnt := t.TempDir()
	// The clone shares the original's UUID; ext4 does not mind. Its
	// journal replays at mount.
	if err := syscall.Mount(cdev, cmnt, "ext4", 0, ""); err != nil {
		t.Fatalf("mount clone: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(cmnt, "before"))
	if err != nil || !bytes.Equal(got, before) {
		t.Errorf("file fsync'd before the capture: err %v, intact %v", err, bytes.Equal(got, before))
	}
	if _, err := os.Stat(filepath.Join(cmnt, "after")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file written after the capture is in the clone: %v", err)
	}
	if err := syscall.Unmount(cmnt, 0); err != nil {
		t.Fatal(err)
	}
	run(t, "e2fsck", "-fn", cdev)
	if err := p.Detach("d-clone1"); err != nil {
		t.Fatal(err)
	}
	if p.Device("d-clone1") != "" {
		t.Error("detached disk still has a device")
	}
	if err := p.DeleteDisk("d-clone1"); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteDisk("d-root1"); !errors.Is(err, ErrAttached) {
		t.Errorf("delete of an attached disk: %v, want ErrAttached", err)
	}
}

func writeSync(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// helperEnv makes the test binary a data plane that serves one attached
// disk until killed (TestRootKilledPlaneGivesEIO).
const helperEnv = "DATAPLANE_TEST_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		os.Exit(helperMain(dir))
	}
	os.Exit(m.Run())
}

func helperMain(dir string) int {
	// Before the device line: the test signals as soon as it reads it.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	p, err := New(Options{Dir: dir})
	if err == nil {
		err = p.Serve()
	}
	if err == nil {
		err = p.AddDisk("d-helper", 64<<20)
	}
	var dev string
	if err == nil {
		dev, err = p.Attach("d-helper")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(dev)
	<-sig
	if err := p.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func startHelper(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var line [64]byte
	n, err := out.Read(line[:])
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %v", err)
	}
	return cmd, strings.TrimSpace(string(line[:n]))
}

// A data plane killed with SIGKILL gives the guest EIO at once, not a
// hang, and its loop device goes when the last opener closes it.
func TestRootKilledPlaneGivesEIO(t *testing.T) {
	requireHost(t)
	dir := t.TempDir()
	cmd, dev := startHelper(t, dir)
	f, err := os.OpenFile(dev, os.O_RDWR|syscall.O_DIRECT, 0)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	if _, err := f.ReadAt(buf, 0); err != nil {
		t.Fatalf("read before the kill: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	done := make(chan error, 1)
	go func() { _, err := f.WriteAt(buf, 8192); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a write to the disk of a killed data plane succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a write to the disk of a killed data plane hangs")
	}
	f.Close()
	// The dead FUSE mount stays until a new run (Serve) or this cleanup.
	syscall.Unmount(filepath.Join(dir, dirMount), syscall.MNT_DETACH)
	assertNothingLeft(t, dir)
}

// SIGTERM makes the data plane remove its loop device and FUSE mount.
func TestRootSignalCleansUp(t *testing.T) {
	requireHost(t)
	dir := t.TempDir()
	cmd, dev := startHelper(t, dir)
	if _, err := os.Stat(dev); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper after SIGTERM: %v", err)
	}
	assertNothingLeft(t, dir)
}

// execCommand is exec.Command (a seam shared with the benchmarks).
var execCommand = exec.Command

// Close returns at once even while a guest filesystem is still mounted on
// a data-plane disk, and the guest's loop device goes when it unmounts.
func TestRootCloseWithGuestMount(t *testing.T) {
	requireHost(t)
	dir := t.TempDir()
	p, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Serve(); err != nil {
		t.Fatal(err)
	}
	if err := p.AddDisk("d-busy", 64<<20); err != nil {
		t.Fatal(err)
	}
	dev, err := p.Attach("d-busy")
	if err != nil {
		t.Fatal(err)
	}
	run(t, "mkfs.ext4", "-q", "-F", dev)
	mnt := t.TempDir()
	if err := syscall.Mount(dev, mnt, "ext4", 0, ""); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs while a guest filesystem is mounted")
	}
	if err := syscall.Unmount(mnt, 0); err != nil {
		t.Fatalf("guest unmount after Close: %v", err)
	}
	assertNothingLeft(t, dir)
}
