package freeze

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/freeze/ioctl"
	"github.com/ecssnap/ecssnap/pkg/loopfs"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// Bounds for the root-tier tests, generous for a busy 2-core machine.
const (
	// blockedWindow is how long a write must stay blocked to count as
	// blocked by a freeze.
	blockedWindow = 300 * time.Millisecond
	// settleLimit bounds every wait for something that should happen.
	settleLimit = 15 * time.Second
)

// newLoopFS makes a loop filesystem inside scratch (which holds images and
// mount points), undone in cleanup even if the test fails.
func newLoopFS(t *testing.T, fstype, scratch string, opts loopfs.Options) *loopfs.FS {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "losetup", "mkfs."+fstype)
	if err := loopfs.Available(fstype); err != nil {
		testenv.Unavailable(t, err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fs, err := loopfs.Create(ctx, fstype, scratch, opts)
	if err != nil {
		t.Fatalf("create %s loop filesystem: %v", fstype, err)
	}
	t.Cleanup(func() {
		if err := fs.Destroy(); err != nil {
			t.Errorf("destroy %s at %s: %v", fstype, fs.MountPoint, err)
		}
	})
	return fs
}

// targetOf is the only way these tests build a Target for a real freeze:
// it refuses anything but the test's own loop filesystem.
func targetOf(t *testing.T, fs *loopfs.FS) Target {
	t.Helper()
	if err := fs.CheckOwned(); err != nil {
		t.Fatalf("safety check: %v", err)
	}
	return Target{MountPoint: fs.MountPoint, FSType: fs.Type, Dev: fs.Dev, Source: fs.Devices[0]}
}

// rawFreeze freezes fs with the ioctl directly (as "someone else") and
// thaws it in cleanup.
func rawFreeze(t *testing.T, fs *loopfs.FS) {
	t.Helper()
	targetOf(t, fs)
	fd, err := syscall.Open(fs.MountPoint, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = ioctl.Thaw(fd)
		syscall.Close(fd)
	})
	if err := ioctl.Freeze(fd); err != nil {
		t.Fatalf("raw freeze of %s: %v", fs.MountPoint, err)
	}
}

// isFrozen asks the kernel without changing anything: FIFREEZE on a frozen
// filesystem fails with EBUSY; on a thawed one it would freeze it, so it
// is followed at once by a thaw. Use only on the test's own filesystems.
func isFrozen(t *testing.T, fs *loopfs.FS) bool {
	t.Helper()
	targetOf(t, fs)
	fd, err := syscall.Open(fs.MountPoint, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	err = ioctl.Freeze(fd)
	if errors.Is(err, ioctl.ErrAlreadyFrozen) {
		return true
	}
	if err != nil {
		t.Fatalf("probe freeze of %s: %v", fs.MountPoint, err)
	}
	if err := ioctl.Thaw(fd); err != nil {
		t.Fatalf("probe thaw of %s: %v", fs.MountPoint, err)
	}
	return false
}

var probeSeq atomic.Int64

// writeProbe is a write in a child process, which blocks in the kernel
// while the filesystem is frozen. The child says "writing" right before
// the write, so that its start-up time never counts as blocked time.
type writeProbe struct {
	path     string
	writing  chan struct{} // closed when the child is about to write
	finished chan struct{} // closed when the child has exited
	err      error
	end      time.Time
}

func startWriteProbe(t *testing.T, dir string) *writeProbe {
	t.Helper()
	p := &writeProbe{path: filepath.Join(dir, "probe-"+strconv.FormatInt(probeSeq.Add(1), 10)),
		writing: make(chan struct{}), finished: make(chan struct{})}
	cmd := testChild("probe", "ECSSNAP_TEST_FILE="+p.path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "writing" {
				close(p.writing)
			}
		}
		p.err = cmd.Wait()
		p.end = time.Now()
		close(p.finished)
	}()
	t.Cleanup(func() {
		// A probe still blocked is released by the thaw in loopfs cleanup;
		// killing it first keeps the test from waiting on it.
		_ = cmd.Process.Kill()
	})
	return p
}

// blocked waits (bounded) until the child is at its write, then checks
// that the write does not complete within window.
func (p *writeProbe) blocked(t *testing.T, window time.Duration) {
	t.Helper()
	limit := time.NewTimer(settleLimit)
	defer limit.Stop()
	select {
	case <-p.writing:
	case <-p.finished:
		t.Fatalf("probe of %s exited before writing: %v", p.path, p.err)
	case <-limit.C:
		t.Fatalf("probe of %s did not start within %v", p.path, settleLimit)
	}
	timer := time.NewTimer(window)
	defer timer.Stop()
	select {
	case <-p.finished:
		t.Fatalf("a write to %s completed while it should be frozen (%v)", p.path, p.err)
	case <-timer.C:
	}
}

// completes waits (bounded) for the probe and returns when it finished.
func (p *writeProbe) completes(t *testing.T, limit time.Duration) time.Time {
	t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-p.finished:
		if p.err != nil {
			t.Fatalf("probe write to %s: %v", p.path, p.err)
		}
		return p.end
	case <-timer.C:
		t.Fatalf("a write to %s was still blocked after %v", p.path, limit)
	}
	return time.Time{}
}

// testChild runs this test binary in a role (see TestMain).
func testChild(role string, env ...string) *exec.Cmd {
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), append([]string{testRoleEnv + "=" + role}, env...)...)
	return cmd
}

// journalIn returns a journal path in a fresh temporary directory: tests
// never use /run/ecssnap, where a real job may keep its journal.
func journalIn(t *testing.T) string {
	return filepath.Join(t.TempDir(), "freeze.json")
}

// eventually polls cond every 20 ms until it holds or limit passes.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		<-tick.C
	}
}

// trials is how many times the kill tests repeat: 20 in CI, 3 locally,
// or ECSSNAP_FREEZE_TRIALS.
func trials(t *testing.T) int {
	if v := os.Getenv("ECSSNAP_FREEZE_TRIALS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("ECSSNAP_FREEZE_TRIALS=%q", v)
		}
		return n
	}
	if testenv.InCI() {
		return 20
	}
	if testing.Short() {
		return 1
	}
	return 3
}

func journalGone(path string) func() bool {
	return func() bool {
		_, err := os.Stat(path)
		return errors.Is(err, os.ErrNotExist)
	}
}

func mustPrepare(t *testing.T, targets []Target, opts SessionOptions) Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sess, err := NewHelperFreezer("", nil).Prepare(ctx, targets, opts)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	t.Cleanup(func() { _ = sess.Close() })
	return sess
}

func statusOf(rep Report, mp string) MountResult {
	for _, m := range rep.Mounts {
		if m.Target.MountPoint == mp {
			return m
		}
	}
	return MountResult{Status: Status(fmt.Sprintf("absent(%s)", mp))}
}

// startAgent starts this test binary in the agent role, freezing target
// with the journal, deadline and job ID given: it says "frozen" on stdout
// once frozen and holds the session until its stdin closes. stop closes
// stdin, kills the agent and reaps it.
func startAgent(t *testing.T, target Target, journal string, deadline time.Duration, jobID string) (*exec.Cmd, io.Reader, func()) {
	t.Helper()
	spec, _ := json.Marshal(agentSpec{Targets: []Target{target}, Journal: journal, Deadline: deadline, JobID: jobID})
	cmd := testChild("agent", "ECSSNAP_TEST_AGENT="+string(spec))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stdout, func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}
