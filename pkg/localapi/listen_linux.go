package localapi

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// staleDialTimeout bounds the dial that decides whether a socket is stale.
// A live daemon accepts within microseconds; the limit only matters for a
// daemon too wedged to accept, which is still not ours to replace.
const staleDialTimeout = time.Second

// Listen listens on the Unix socket at path for the daemon. If a socket is
// there already, one dial decides: an answer means another daemon runs
// (ErrAlreadyRunning); a refusal means it is stale and it is removed;
// anything else is an error and the file is left alone. After bind the
// socket is given the group and mode from opts by path, not through the
// process umask, which is process-wide and would race with every other
// goroutine creating files. The group falls back to the process's own, with
// a warning, when it does not exist.
func Listen(path string, opts ListenOptions) (net.Listener, error) {
	opts.defaults()
	// Two daemons starting at once must not both find the socket stale and
	// each remove the other's: the check and the bind run under a lock.
	unlock, err := lockPath(path + ".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := removeStale(path, opts.Logger); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := setOwnership(path, opts); err != nil {
		_ = ln.Close() // also unlinks the socket
		return nil, err
	}
	opts.Logger.Info("local API listening", "socket", path, "group", opts.Group, "mode", fmt.Sprintf("%#o", opts.Mode))
	return ln, nil
}

func removeStale(path string, log *slog.Logger) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check socket %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket (%s); not replacing it", path, fi.Mode().Type())
	}
	conn, err := net.DialTimeout("unix", path, staleDialTimeout)
	if err == nil {
		_ = conn.Close()
		return fmt.Errorf("%w: %s answers", ErrAlreadyRunning, path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("cannot tell whether a daemon listens on %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	log.Info("removed stale socket: nobody answered on it", "socket", path)
	return nil
}

func setOwnership(path string, opts ListenOptions) error {
	gid, err := lookupGroup(opts.Group)
	if err != nil {
		opts.Logger.Warn("socket group not found; keeping the daemon's group, so only root can connect",
			"group", opts.Group, "socket", path, "err", err)
	} else if err := os.Chown(path, -1, gid); err != nil {
		// uid -1: the creator stays owner, which is root for the daemon.
		return fmt.Errorf("socket %s: set group %s: %w", path, opts.Group, err)
	}
	if err := os.Chmod(path, opts.Mode); err != nil {
		return fmt.Errorf("socket %s: set mode: %w", path, err)
	}
	return nil
}

// lockPath holds an exclusive flock on path until the returned func runs.
func lockPath(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("socket lock: %w", err)
	}
	// Blocking: the holder only checks and binds, which takes microseconds.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("socket lock %s: %w", path, err)
	}
	return func() { _ = f.Close() }, nil
}
