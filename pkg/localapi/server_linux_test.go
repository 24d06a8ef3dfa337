package localapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/job"

	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// testServer is the real thing on a socket: Listen, NewServer, Serve.
type testServer struct {
	socket string
	fake   *fakeBackend
	log    *testenv.LogSink
}

func startServer(t testing.TB, dir string, lopts ListenOptions, hopts HandlerOptions) *testServer {
	t.Helper()
	s := &testServer{socket: filepath.Join(dir, "ecssnap.sock"), fake: newFake(), log: &testenv.LogSink{}}
	logger := slog.New(s.log)
	lopts.Logger, hopts.Logger = logger, logger
	if hopts.Group == "" {
		hopts.Group = "root"
	}
	if lopts.Group == "" {
		lopts.Group = hopts.Group
	}
	ln, err := Listen(s.socket, lopts)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	srv := NewServer(NewHandler(s.fake, hopts), ServerOptions{Logger: logger})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

func TestServerIdentifiesCallerOverSocket(t *testing.T) {
	s := startServer(t, t.TempDir(), ListenOptions{}, HandlerOptions{})
	c := NewClient(s.socket)
	defer c.CloseIdleConnections()
	if _, err := c.CreateJob(context.Background(), CreateJobRequest{Trigger: "manual"}); err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	got := s.fake.calls()[0].caller
	if got.UID != os.Getuid() || got.GID != os.Getgid() || got.PID != os.Getpid() {
		t.Fatalf("caller = %+v, want uid %d gid %d pid %d", got, os.Getuid(), os.Getgid(), os.Getpid())
	}
	exe, _ := os.Executable()
	if !strings.Contains(got.Cmdline, filepath.Base(exe)) {
		t.Errorf("cmdline %q does not name %s", got.Cmdline, filepath.Base(exe))
	}
	groups, _ := os.Getgroups()
	if len(got.Groups) != len(groups) {
		t.Errorf("groups %v, want %v", got.Groups, groups)
	}
}

func TestServerEventsStream(t *testing.T) {
	s := startServer(t, t.TempDir(), ListenOptions{}, HandlerOptions{})
	src := make(chan job.Event)
	s.fake.streams["j-2"] = src
	c := NewClient(s.socket)
	defer c.CloseIdleConnections()

	got := make(chan job.Event)
	done := make(chan error, 1)
	go func() {
		done <- c.Events(context.Background(), "j-2", func(ev job.Event) { got <- ev })
	}()
	// Each event must reach the client before the next is sent: the test
	// would block forever (and time out) if the handler buffered them.
	for i, typ := range []string{"create", "progress", "accomplished"} {
		src <- job.Event{Job: "j-2", Type: typ, Progress: i * 50, Time: t0}
		if ev := <-got; ev.Type != typ || ev.Progress != i*50 || !ev.Time.Equal(t0) {
			t.Fatalf("event %d = %+v, want type %s", i, ev, typ)
		}
	}
	close(src) // the job ends
	if err := <-done; err != nil {
		t.Fatalf("Events after the job ended: %v", err)
	}
	<-s.fake.ended
}

func TestServerEventsClientGoes(t *testing.T) {
	s := startServer(t, t.TempDir(), ListenOptions{}, HandlerOptions{})
	src := make(chan job.Event)
	s.fake.streams["j-2"] = src
	c := NewClient(s.socket)
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan job.Event)
	done := make(chan error, 1)
	go func() { done <- c.Events(ctx, "j-2", func(ev job.Event) { got <- ev }) }()
	src <- job.Event{Type: "create"}
	<-got
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Events after cancel = %v, want context.Canceled", err)
	}
	// The server notices the closed connection and ends the stream, which
	// lets the backend stop: the fake closes ended when its ctx is done.
	<-s.fake.ended
}

func TestClientDaemonNotRunning(t *testing.T) {
	dir := t.TempDir()
	// No socket at all.
	start := time.Now()
	_, err := NewClient(filepath.Join(dir, "none.sock")).Health(context.Background())
	if !errors.Is(err, ErrDaemonNotRunning) || !strings.Contains(err.Error(), "sudo systemctl start ecssnap") {
		t.Fatalf("no socket: %v", err)
	}
	if d := time.Since(start); d > DefaultDialTimeout {
		t.Errorf("ErrDaemonNotRunning took %v", d)
	}
	// A socket file nobody listens on, as a killed daemon leaves it.
	stale := staleSocket(t, dir)
	_, err = NewClient(stale).ListJobs(context.Background(), 0)
	if !errors.Is(err, ErrDaemonNotRunning) || !strings.Contains(err.Error(), "nobody listening") {
		t.Fatalf("stale socket: %v", err)
	}
}

// staleSocket leaves a socket file behind with nobody listening.
func staleSocket(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "ecssnap.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	_ = ln.Close()
	return path
}

func TestListenReplacesOnlyStaleSockets(t *testing.T) {
	dir := t.TempDir()
	path := staleSocket(t, dir)
	s := startServer(t, dir, ListenOptions{}, HandlerOptions{})
	if len(s.log.Find("removed stale socket", path)) != 1 {
		t.Fatalf("stale socket removal not logged:\n%s", s.log)
	}
	c := NewClient(path)
	defer c.CloseIdleConnections()
	if _, err := c.Health(context.Background()); err != nil {
		t.Fatalf("Health after replacing a stale socket: %v", err)
	}

	// A second daemon is refused and leaves the first one's socket alone.
	_, err := Listen(path, ListenOptions{})
	if !errors.Is(err, ErrAlreadyRunning) || !strings.Contains(err.Error(), "another ecssnap daemon is running") {
		t.Fatalf("second Listen = %v, want ErrAlreadyRunning", err)
	}
	c2 := NewClient(path)
	defer c2.CloseIdleConnections()
	if _, err := c2.Health(context.Background()); err != nil {
		t.Fatalf("first daemon unreachable after a refused second one: %v", err)
	}

	// Something that is not a socket is never removed.
	file := filepath.Join(dir, "file.sock")
	if err := os.WriteFile(file, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(file, ListenOptions{}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Listen over a regular file = %v", err)
	}
	if data, _ := os.ReadFile(file); string(data) != "keep me" {
		t.Fatalf("regular file changed: %q", data)
	}
}

func TestListenSetsModeAndGroup(t *testing.T) {
	umask := readUmask(t)
	dir := t.TempDir()
	sink := &testenv.LogSink{}
	path := filepath.Join(dir, "a.sock")
	ln, err := Listen(path, ListenOptions{Group: "ecssnap-no-such-group-x", Logger: slog.New(sink)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o660 || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("socket mode %v, %v; want 0660 socket", fi.Mode(), err)
	}
	if gid := statGID(t, path); gid != os.Getegid() {
		t.Errorf("socket gid %d, want the daemon's %d when the group is missing", gid, os.Getegid())
	}
	if len(sink.Find("WARN", "group not found", "ecssnap-no-such-group-x")) != 1 {
		t.Errorf("missing group not reported:\n%s", sink)
	}
	if got := readUmask(t); got != umask {
		t.Errorf("umask changed from %s to %s", umask, got)
	}
	// Closing the listener removes the socket, so the next start finds none.
	_ = ln.Close()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after Close: %v", err)
	}
}

func readUmask(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("no Umask line")
	return ""
}

func statGID(t *testing.T, path string) int {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return int(st.Gid)
}
