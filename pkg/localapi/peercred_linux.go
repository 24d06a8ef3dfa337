package localapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Bounds on what is read from /proc per connection.
const (
	maxStatusBytes  = 1 << 20 // Groups: can list 65536 gids
	maxCmdlineBytes = 4096    // enough to recognise the command in a log line
)

func connContext(procRoot string, log *slog.Logger) func(context.Context, net.Conn) context.Context {
	return func(ctx context.Context, c net.Conn) context.Context {
		uc, ok := c.(*net.UnixConn)
		if !ok {
			return withPeerError(ctx, fmt.Errorf("connection over %s, not a Unix socket", c.LocalAddr().Network()))
		}
		caller, err := peerCaller(uc, procRoot, log)
		if err != nil {
			return withPeerError(ctx, err)
		}
		return WithCaller(ctx, caller)
	}
}

// peerCaller asks the kernel who connected (SO_PEERCRED: the credentials at
// connect time, which no later setuid by the client changes) and adds the
// supplementary groups and command line from /proc.
func peerCaller(uc *net.UnixConn, procRoot string, log *slog.Logger) (Caller, error) {
	raw, err := uc.SyscallConn()
	if err != nil {
		return Caller{}, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Caller{}, fmt.Errorf("peer credentials: %w", err)
	}
	if credErr != nil {
		return Caller{}, fmt.Errorf("peer credentials: %w", credErr)
	}
	c := Caller{UID: int(cred.Uid), GID: int(cred.Gid), PID: int(cred.Pid)}
	if c.PID <= 0 {
		// A peer in a PID namespace we cannot see: no /proc entry to read,
		// so it is judged by its uid and primary gid alone.
		return c, nil
	}
	dir := filepath.Join(procRoot, strconv.Itoa(c.PID))
	st, err := readProcStatus(dir)
	switch {
	case err != nil:
		log.Debug("no supplementary groups for local API caller", "pid", c.PID, "err", err)
	case st.EUID != c.UID:
		// The PID now belongs to a process with other credentials (it
		// exited and the PID was reused, or it changed uid): its groups
		// would not be the ones the kernel checked when it connected.
		log.Warn("local API caller's /proc entry does not match its credentials; ignoring its supplementary groups",
			"pid", c.PID, "uid", c.UID, "proc_euid", st.EUID)
	default:
		c.Groups = st.Groups
	}
	if data, err := readBounded(filepath.Join(dir, "cmdline"), maxCmdlineBytes); err == nil {
		c.Cmdline = parseCmdline(data)
	}
	return c, nil
}

func readProcStatus(dir string) (procStatus, error) {
	data, err := readBounded(filepath.Join(dir, "status"), maxStatusBytes)
	if err != nil {
		return procStatus{}, err
	}
	return parseProcStatus(data)
}

// readBounded reads at most limit bytes: /proc files report size 0, and a
// bound keeps one odd process from costing the daemon memory.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) == 0 {
		return nil, errors.New("read " + path + ": empty")
	}
	return data, nil
}
