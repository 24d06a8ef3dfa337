package hook

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procStat is what the hook needs from /proc/<pid>/stat.
type procStat struct {
	PID   int
	Comm  string // the executable's name, cut to 15 bytes by the kernel
	PPID  int
	TTY   int    // tty_nr: 0 when the process has no controlling terminal
	Start uint64 // starttime in clock ticks since boot: with the pid, unique
}

// parseStat reads one /proc/<pid>/stat line. The comm field is in
// parentheses and may itself hold spaces and parentheses, so the fields
// after it are counted from the last ')'.
func parseStat(data []byte) (procStat, error) {
	open := bytes.IndexByte(data, '(')
	closing := bytes.LastIndexByte(data, ')')
	if open < 1 || closing < open {
		return procStat{}, errors.New("no (comm) field")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(data[:open])))
	if err != nil {
		return procStat{}, fmt.Errorf("pid: %w", err)
	}
	// fields[0] is field 3 (state) of proc(5); field N is fields[N-3].
	fields := strings.Fields(string(data[closing+1:]))
	if len(fields) < 20 {
		return procStat{}, fmt.Errorf("%d fields after comm, want at least 20", len(fields))
	}
	ppid, err := strconv.Atoi(fields[4-3])
	if err != nil {
		return procStat{}, fmt.Errorf("ppid: %w", err)
	}
	tty, err := strconv.Atoi(fields[7-3])
	if err != nil {
		return procStat{}, fmt.Errorf("tty_nr: %w", err)
	}
	start, err := strconv.ParseUint(fields[22-3], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("starttime: %w", err)
	}
	return procStat{PID: pid, Comm: string(data[open+1 : closing]), PPID: ppid, TTY: tty, Start: start}, nil
}

// procFS reads processes under a root ("/" or a test tree).
type procFS struct{ root string }

func (p procFS) path(pid string, name string) string {
	return filepath.Join(p.root, procDir, pid, name)
}

// stat reads /proc/<pid>/stat; pid is a number or "self".
func (p procFS) stat(pid string) (procStat, error) {
	data, err := readSmall(p.path(pid, procStatFile))
	if err != nil {
		return procStat{}, err
	}
	st, err := parseStat(data)
	if err != nil {
		return procStat{}, fmt.Errorf("parse %s: %w", p.path(pid, procStatFile), err)
	}
	return st, nil
}

// cmdline reads /proc/<pid>/cmdline as its arguments.
func (p procFS) cmdline(pid int) ([]string, error) {
	data, err := readSmall(p.path(strconv.Itoa(pid), procCmdlineFile))
	if err != nil {
		return nil, err
	}
	data = bytes.TrimRight(data, "\x00")
	if len(data) == 0 {
		return nil, nil // a kernel thread or a zombie
	}
	return strings.Split(string(data), "\x00"), nil
}

// maxProcRead bounds reads of /proc files, whose reported size is 0.
const maxProcRead = 64 << 10

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxProcRead))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}
