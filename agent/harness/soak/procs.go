package soak

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// helperArgv0 is how the freeze helper names itself in argv[0] (see
// pkg/freeze startChild): the same binary re-executed with HelperEnv set.
const helperArgv0 = "ecssnap-freeze-helper"

// procInfo is what /proc says about one process.
type procInfo struct {
	pid, ppid int
	start     uint64 // field 22 of stat: tells a reused pid apart
	argv0     string
}

// readProc reads /proc/<pid>/stat, and cmdline when want accepts the
// parent (most processes are not of interest: skip the second read).
func readProc(procRoot string, pid int, want func(ppid int) bool) (procInfo, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return procInfo{}, err
	}
	info, err := parseStat(stat)
	if err != nil || !want(info.ppid) {
		return info, err
	}
	cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	if err != nil {
		return procInfo{}, err
	}
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	info.argv0 = string(argv0)
	return info, nil
}

// parseStat reads pid, ppid and start time from a /proc/<pid>/stat line.
// The command name may hold spaces and parentheses, so fields are counted
// from the last ')'.
func parseStat(b []byte) (procInfo, error) {
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 1 || end < open {
		return procInfo{}, fmt.Errorf("malformed stat %q", s)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return procInfo{}, fmt.Errorf("stat pid: %w", err)
	}
	// After ")": state(3) ppid(4) ... starttime(22).
	f := strings.Fields(s[end+1:])
	if len(f) < 20 {
		return procInfo{}, fmt.Errorf("stat has %d fields after the name", len(f))
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procInfo{}, fmt.Errorf("stat ppid: %w", err)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procInfo{}, fmt.Errorf("stat starttime: %w", err)
	}
	return procInfo{pid: pid, ppid: ppid, start: start}, nil
}

// helpersOf lists the live freeze helpers whose parent is one of parents.
// Other people's helpers on the same machine are never touched.
func helpersOf(procRoot string, parents map[int]bool) []procInfo {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil
	}
	var out []procInfo
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		info, err := readProc(procRoot, pid, func(ppid int) bool { return parents[ppid] })
		if err != nil || !parents[info.ppid] || info.argv0 != helperArgv0 {
			continue
		}
		out = append(out, info)
	}
	return out
}

// owned is the set of ecssnap processes the soak started (daemons and CLI
// runs): the only parents whose helpers it may kill.
type owned struct {
	mu   sync.Mutex
	pids map[int]bool
}

func (o *owned) add(pid int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pids == nil {
		o.pids = map[int]bool{}
	}
	o.pids[pid] = true
}

func (o *owned) remove(pid int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.pids, pid)
}

func (o *owned) snapshot() map[int]bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.pids)
}
