package freeze

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a running helper or guard as seen from the owner.
type child struct {
	role   string
	cmd    *exec.Cmd
	id     ProcessID
	stdin  io.WriteCloser
	events chan event    // closed at EOF of its stdout
	exited chan struct{} // closed once it has been waited for
	stderr *cappedBuffer
}

// startChild starts exe in the given role. The helper gets SIGTERM when the
// thread that started it dies (PR_SET_PDEATHSIG, set between fork and exec
// and checked against a parent that already died); the guard gets its own
// session and no death signal. The environment is minimal and the working
// directory is /, so neither pins a mount nor inherits settings that could
// make the Go runtime write files (GOCOVERDIR, GOTRACEBACK=crash).
func startChild(exe, role string, extra *os.File) (*child, error) {
	cmd := exec.Command(exe)
	// argv[0] names the role in ps. The extra argument is inert for a main
	// that checks HelperEnv first, as it must; a Go test binary that lacks
	// that hook runs no tests and exits, instead of re-running its suite.
	cmd.Args = []string{"ecssnap-freeze-" + role, "-test.run=^$"}
	cmd.Env = []string{HelperEnv + "=" + role, "GOTRACEBACK=single", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{extra}
	c := &child{role: role, cmd: cmd, events: make(chan event, 16), exited: make(chan struct{}), stderr: &cappedBuffer{max: 16 << 10}}
	cmd.Stderr = c.stderr
	if role == roleHelper {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("start freeze %s: %w", role, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start freeze %s: %w", role, err)
	}
	// PR_SET_PDEATHSIG fires when the *thread* that forked exits. The Go
	// runtime only ends a thread whose goroutine exits while locked to it,
	// so start from a fresh goroutine that never locks: the caller may be a
	// locked one.
	started := make(chan error, 1)
	go func() { started <- cmd.Start() }()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start freeze %s %s: %w", role, exe, err)
	}
	c.id = ProcessID{PID: cmd.Process.Pid}
	if id, err := processID(procRoot, cmd.Process.Pid); err == nil {
		c.id = id
	}
	go c.readEvents(stdout)
	return c, nil
}

// readEvents forwards the child's events, then reaps it. Wait must come
// after the last read of stdout.
func (c *child) readEvents(stdout io.Reader) {
	for l := range readLines(stdout) {
		e, err := parseEvent(l.data)
		if l.err != nil {
			err = l.err
		}
		if err != nil {
			// Our own binary speaks the protocol; a bad line is skipped, and
			// the missing event it should have been shows up as an error.
			continue
		}
		c.events <- e
	}
	close(c.events)
	_ = c.cmd.Wait()
	close(c.exited)
}

// send writes one command line. Pipe writes to a live child that reads
// continuously do not block; a dead child makes them fail with EPIPE.
func (c *child) send(v any) error {
	if _, err := c.stdin.Write(encodeLine(v)); err != nil {
		// A dead child is the usual cause (EPIPE, or the pipe already
		// closed by the reaper): say that, not the pipe's error.
		if c.waitExit(100 * time.Millisecond) {
			return childGone(c)
		}
		return fmt.Errorf("write to freeze %s: %w", c.role, err)
	}
	return nil
}

// next waits for the next event, bounded by limit and ctx. ok is false when
// the child's stdout closed.
func (c *child) next(ctx context.Context, limit time.Duration) (event, bool, error) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case e, ok := <-c.events:
		return e, ok, nil
	case <-t.C:
		return event{}, false, fmt.Errorf("freeze %s did not answer within %v", c.role, limit)
	case <-ctx.Done():
		return event{}, false, fmt.Errorf("waiting for freeze %s: %w", c.role, ctx.Err())
	}
}

// waitExit waits up to limit for the child to exit.
func (c *child) waitExit(limit time.Duration) bool {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-c.exited:
		return true
	case <-t.C:
		return false
	}
}

// childGone describes a child that exited unexpectedly: how it ended
// (killed by a signal, say) when it has been reaped, and the start of
// what it wrote to stderr (a panic, usually).
func childGone(c *child) error {
	how := "exited unexpectedly"
	select {
	case <-c.exited:
		if ps := c.cmd.ProcessState; ps != nil {
			how = "ended unexpectedly (" + ps.String() + ")"
		}
	default:
	}
	msg := strings.TrimSpace(c.stderr.String())
	if msg == "" {
		return fmt.Errorf("freeze %s %s", c.role, how)
	}
	return fmt.Errorf("freeze %s %s: %s", c.role, how, msg)
}

// cappedBuffer keeps the first max bytes written, in memory only: a child's
// stderr (a Go panic, say) must never go to a file that may be frozen.
type cappedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
