package freeze

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// parseStat extracts the state and the start time (field 22, clock ticks
// since boot) from the contents of /proc/<pid>/stat. The command name, field
// 2, may contain spaces and parentheses, so fields are counted from the last
// ')'.
func parseStat(data []byte) (state byte, start uint64, err error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("parse stat: no command name")
	}
	fields := bytes.Fields(data[i+1:])
	// fields[0] is field 3 (state); field 22 is fields[19].
	if len(fields) < 20 || len(fields[0]) != 1 {
		return 0, 0, fmt.Errorf("parse stat: %d fields after the command name", len(fields))
	}
	start, err = strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("parse stat start time: %w", err)
	}
	return fields[0][0], start, nil
}

// processID returns pid with its start time, read from procRoot.
func processID(procRoot string, pid int) (ProcessID, error) {
	data, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return ProcessID{}, fmt.Errorf("read start time of pid %d: %w", pid, err)
	}
	_, start, err := parseStat(data)
	if err != nil {
		return ProcessID{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	return ProcessID{PID: pid, StartTime: start}, nil
}

// processAlive reports whether the process id names is still running: same
// pid, same start time (not a reused pid), and not a zombie.
func processAlive(procRoot string, id ProcessID) bool {
	if id.PID <= 0 {
		return false
	}
	data, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(id.PID), "stat"))
	if err != nil {
		return false
	}
	state, start, err := parseStat(data)
	if err != nil {
		return false
	}
	return start == id.StartTime && state != 'Z' && state != 'X' && state != 'x'
}
