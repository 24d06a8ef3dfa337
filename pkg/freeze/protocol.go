package freeze

// The helper protocol: one JSON object per line on pipes, never files.
//
//	parent -> helper (stdin):
//	  {"op":"open","v":2,"deadline_ms":10000,"mounts":[{"path":"/data/db","dev":"8:33","fstype":"ext4"},{"path":"/data","dev":"8:17","fstype":"xfs","level":1},...]}
//	  {"op":"freeze"}
//	  {"op":"thaw"}
//	  EOF at any time means "thaw now and exit".
//	helper -> parent (stdout):
//	  {"ev":"hello","v":2,"pid":123}
//	  {"ev":"opened","mounts":[{"i":0,"status":"ok","dev":"8:17"},{"i":1,"status":"error","error":"..."}]}
//	  {"ev":"frozen","mounts":[{"i":0,"status":"frozen","freeze_ns":1200},{"i":1,"status":"busy"}]}
//	  {"ev":"thawed","reason":"request","held_ns":5300000,"mounts":[...],"ops":[...]}
//	  {"ev":"error","error":"..."}   a command the helper refused
//	parent -> guard (stdin), then nothing until EOF ("the owner is done or dead"):
//	  {"op":"guard","v":2,"session":"5f0c...","journal":"/run/ecssnap/freeze.json","grace_ms":500,"mounts":[...]}
//	guard -> parent (stdout):
//	  {"ev":"ready","pid":124,"mounts":[{"i":0,"status":"ok","dev":"8:17"}]}
//	  {"ev":"exit","reason":"helper-died","mounts":[{"i":0,"status":"thawed"}]}
//	helper -> guard (the helper's fd 3, the guard's fd 3):
//	  {"ev":"arm","deadline_ms":10000}  sent before the first FIFREEZE
//	  {"ev":"busy","i":1}                mount 1 was frozen by someone else
//	  {"ev":"done"}                      everything the helper froze is thawed
//	  EOF without "done" after "arm" means the helper died with filesystems frozen.
//
// Mounts are listed in freeze order, grouped by "level" (omitted for 0):
// the helper freezes one level at a time, the members of a level at once,
// and thaws in the reverse order of levels. The parent computes the levels
// (classifyLevels), because only it knows every bind mount of a filesystem,
// and the helper checks them against the paths it was given. Version 2
// added the levels: a version 1 "open", which has none, is refused rather
// than taken as one level for everything.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

const (
	protocolVersion = 2
	// maxLine bounds one protocol line; a longer one is a protocol error.
	maxLine = 1 << 20
	// maxMounts bounds the mounts of one session.
	maxMounts = 4096
)

// Command ops.
const (
	opOpen   = "open"
	opFreeze = "freeze"
	opThaw   = "thaw"
	opGuard  = "guard"
)

// Event names.
const (
	evHello  = "hello"
	evOpened = "opened"
	evFrozen = "frozen"
	evThawed = "thawed"
	evError  = "error"
	evReady  = "ready"
	evExit   = "exit"
	evArm    = "arm"
	evBusy   = "busy"
	evDone   = "done"
)

// Per-mount wire statuses.
const (
	wsOK          = "ok"
	wsError       = "error"
	wsFrozen      = "frozen"
	wsBusy        = "busy"
	wsUnsupported = "unsupported"
	wsSkipped     = "skipped"
	wsThawed      = "thawed"
)

type wireMount struct {
	Path   string `json:"path"`
	Dev    string `json:"dev,omitempty"`
	FSType string `json:"fstype,omitempty"`
	// Level is the nesting level: 0 for the leaves, frozen first.
	Level int `json:"level,omitempty"`
}

type command struct {
	Op         string      `json:"op"`
	Version    int         `json:"v,omitempty"`
	DeadlineMS int64       `json:"deadline_ms,omitempty"`
	Mounts     []wireMount `json:"mounts,omitempty"`
	// Guard configuration.
	Session string `json:"session,omitempty"`
	Journal string `json:"journal,omitempty"`
	GraceMS int64  `json:"grace_ms,omitempty"`
}

type wireResult struct {
	I        int    `json:"i"`
	Status   string `json:"status"`
	Dev      string `json:"dev,omitempty"`
	Error    string `json:"error,omitempty"`
	FreezeNS int64  `json:"freeze_ns,omitempty"`
	ThawNS   int64  `json:"thaw_ns,omitempty"`
	Thawed   bool   `json:"thawed,omitempty"`
}

type wireOp struct {
	Kind    string `json:"op"`
	I       int    `json:"i"`
	StartNS int64  `json:"start_ns"`
	EndNS   int64  `json:"end_ns"`
	Error   string `json:"error,omitempty"`
}

type event struct {
	Ev         string       `json:"ev"`
	Version    int          `json:"v,omitempty"`
	PID        int          `json:"pid,omitempty"`
	I          int          `json:"i,omitempty"`
	DeadlineMS int64        `json:"deadline_ms,omitempty"`
	HeldNS     int64        `json:"held_ns,omitempty"`
	Reason     string       `json:"reason,omitempty"`
	Error      string       `json:"error,omitempty"`
	Mounts     []wireResult `json:"mounts,omitempty"`
	Ops        []wireOp     `json:"ops,omitempty"`
}

var errProtocol = errors.New("freeze helper protocol")

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errProtocol, fmt.Sprintf(format, args...))
}

// decodeStrict decodes exactly one JSON object from line, rejecting unknown
// fields and trailing data: a helper must not guess at what it was told.
func decodeStrict(line []byte, v any) error {
	if len(line) > maxLine {
		return protoErr("line of %d bytes exceeds %d", len(line), maxLine)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", errProtocol, err)
	}
	if dec.More() {
		return protoErr("trailing data after the object")
	}
	return nil
}

// parseCommand parses and validates one line sent to the helper or guard.
func parseCommand(line []byte) (command, error) {
	var c command
	if err := decodeStrict(line, &c); err != nil {
		return command{}, err
	}
	switch c.Op {
	case opFreeze, opThaw:
		if c.Version != 0 || c.DeadlineMS != 0 || c.Mounts != nil || c.Session != "" || c.Journal != "" || c.GraceMS != 0 {
			return command{}, protoErr("%q takes no arguments", c.Op)
		}
		return c, nil
	case opOpen, opGuard:
	default:
		return command{}, protoErr("unknown op %q", c.Op)
	}
	if c.Version != protocolVersion {
		return command{}, protoErr("version %d, want %d", c.Version, protocolVersion)
	}
	if err := validateMounts(c.Mounts); err != nil {
		return command{}, err
	}
	if c.Op == opOpen {
		if c.DeadlineMS <= 0 || c.DeadlineMS > MaxDeadline.Milliseconds() {
			return command{}, protoErr("deadline_ms %d outside (0, %d]", c.DeadlineMS, MaxDeadline.Milliseconds())
		}
		if c.Session != "" || c.Journal != "" || c.GraceMS != 0 {
			return command{}, protoErr("guard fields in an open command")
		}
		return c, nil
	}
	if c.DeadlineMS != 0 {
		return command{}, protoErr("deadline_ms in a guard command")
	}
	if !cleanAbs(c.Journal) {
		return command{}, protoErr("journal path %q is not clean and absolute", c.Journal)
	}
	if c.GraceMS <= 0 || c.GraceMS > MaxDeadline.Milliseconds() {
		return command{}, protoErr("grace_ms %d out of range", c.GraceMS)
	}
	if !validSessionID(c.Session) {
		return command{}, protoErr("bad session id %q", c.Session)
	}
	return c, nil
}

func validateMounts(ms []wireMount) error {
	if len(ms) == 0 || len(ms) > maxMounts {
		return protoErr("%d mounts, want 1 to %d", len(ms), maxMounts)
	}
	for i, m := range ms {
		if !cleanAbs(m.Path) {
			return protoErr("mount %d: path %q is not clean and absolute", i, m.Path)
		}
		if m.Dev != "" && !validDev(m.Dev) {
			return protoErr("mount %d: dev %q is not major:minor", i, m.Dev)
		}
		if len(m.FSType) > 64 || strings.ContainsRune(m.FSType, 0) {
			return protoErr("mount %d: bad fstype", i)
		}
		if m.Level < 0 || m.Level >= maxMounts || i > 0 && m.Level < ms[i-1].Level {
			return protoErr("mount %d: level %d out of range or out of order", i, m.Level)
		}
	}
	return validateNesting(ms)
}

// validateNesting refuses levels that would freeze a mount point before, or
// together with, a mount point below it: whatever computed them, the helper
// must not freeze a parent ahead of its child (or / ahead of anything). The
// levels ascend along ms, so a later mount may not lie below an earlier
// one, nor an earlier one below a later one of the same level.
func validateNesting(ms []wireMount) error {
	for i, a := range ms {
		for j := i + 1; j < len(ms); j++ {
			b := ms[j]
			if isBelow(b.Path, a.Path) || a.Level == b.Level && isBelow(a.Path, b.Path) {
				return protoErr("mount %d (%s, level %d) and mount %d (%s, level %d): a mount must be at a lower level than the one it is inside",
					i, a.Path, a.Level, j, b.Path, b.Level)
			}
		}
	}
	return nil
}

func cleanAbs(p string) bool {
	return p != "" && len(p) <= 4096 && path.IsAbs(p) && path.Clean(p) == p && !strings.ContainsRune(p, 0)
}

// validDev accepts "major:minor" with decimal numbers that fit 32 bits.
func validDev(s string) bool {
	maj, min, ok := strings.Cut(s, ":")
	if !ok {
		return false
	}
	for _, n := range []string{maj, min} {
		if n == "" || strings.TrimLeft(n, "0123456789") != "" {
			return false
		}
		if _, err := strconv.ParseUint(n, 10, 32); err != nil {
			return false
		}
	}
	return true
}

// validSessionID accepts what newSessionID makes: lowercase hex, 8 to 64
// characters.
func validSessionID(s string) bool {
	return len(s) >= 8 && len(s) <= 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// parseEvent parses and validates one line from the helper or the guard.
func parseEvent(line []byte) (event, error) {
	var e event
	if err := decodeStrict(line, &e); err != nil {
		return event{}, err
	}
	switch e.Ev {
	case evHello, evOpened, evFrozen, evThawed, evError, evReady, evExit, evArm, evBusy, evDone:
	default:
		return event{}, protoErr("unknown event %q", e.Ev)
	}
	if e.Ev == evHello && e.Version != protocolVersion {
		return event{}, protoErr("helper speaks version %d, want %d", e.Version, protocolVersion)
	}
	if e.I < 0 || e.I >= maxMounts || e.PID < 0 || e.HeldNS < 0 || e.DeadlineMS < 0 ||
		e.DeadlineMS > MaxDeadline.Milliseconds() || len(e.Mounts) > maxMounts || len(e.Ops) > 2*maxMounts {
		return event{}, protoErr("%s: field out of range", e.Ev)
	}
	for _, r := range e.Mounts {
		if r.I < 0 || r.I >= maxMounts || r.FreezeNS < 0 || r.ThawNS < 0 {
			return event{}, protoErr("%s: mount index or duration out of range", e.Ev)
		}
		switch r.Status {
		case wsOK, wsError, wsFrozen, wsBusy, wsUnsupported, wsSkipped, wsThawed:
		default:
			return event{}, protoErr("%s: unknown status %q", e.Ev, r.Status)
		}
		if r.Dev != "" && !validDev(r.Dev) {
			return event{}, protoErr("%s: bad dev %q", e.Ev, r.Dev)
		}
	}
	for _, op := range e.Ops {
		if (op.Kind != opFreeze && op.Kind != opThaw) || op.I < 0 || op.I >= maxMounts ||
			op.StartNS < 0 || op.EndNS < op.StartNS {
			return event{}, protoErr("%s: malformed op", e.Ev)
		}
	}
	return e, nil
}

// encodeLine renders v as one protocol line, newline included.
func encodeLine(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain structs of strings and numbers are encoded here.
		panic(fmt.Sprintf("freeze: encode protocol line: %v", err))
	}
	return append(b, '\n')
}

func ms(d time.Duration) int64 { return d.Milliseconds() }
