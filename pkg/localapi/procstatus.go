package localapi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// procStatus is what the API needs from /proc/<pid>/status.
type procStatus struct {
	EUID   int   // second field of "Uid:"
	Groups []int // "Groups:", the supplementary groups
}

// parseProcStatus reads the "Uid:" and "Groups:" lines of a
// /proc/<pid>/status file. Both must be present; "Groups:" may be empty.
func parseProcStatus(data []byte) (procStatus, error) {
	var st procStatus
	haveUID, haveGroups := false, false
	sc := bufio.NewScanner(bytes.NewReader(data))
	// "Groups:" lists up to NGROUPS_MAX (65536) gids: allow long lines.
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		switch key {
		case "Uid":
			// Real, effective, saved, filesystem. SO_PEERCRED reports the
			// effective uid, so that is the one to compare.
			if len(fields) != 4 {
				return procStatus{}, fmt.Errorf("status: Uid line %q: want 4 fields", value)
			}
			euid, err := strconv.Atoi(fields[1])
			if err != nil || euid < 0 {
				return procStatus{}, fmt.Errorf("status: Uid line %q: bad effective uid", value)
			}
			st.EUID, haveUID = euid, true
		case "Groups":
			for _, f := range fields {
				gid, err := strconv.Atoi(f)
				if err != nil || gid < 0 {
					return procStatus{}, fmt.Errorf("status: Groups line: bad gid %q", f)
				}
				st.Groups = append(st.Groups, gid)
			}
			haveGroups = true
		}
	}
	if err := sc.Err(); err != nil {
		return procStatus{}, fmt.Errorf("status: %w", err)
	}
	if !haveUID || !haveGroups {
		return procStatus{}, errors.New("status: no Uid or Groups line")
	}
	return st, nil
}

// parseCmdline renders /proc/<pid>/cmdline (NUL-separated arguments) as one
// line for logs.
func parseCmdline(data []byte) string {
	args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
	return strings.Join(args, " ")
}
