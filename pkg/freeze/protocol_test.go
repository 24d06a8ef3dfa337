package freeze

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var validCommands = []string{
	`{"op":"open","v":2,"deadline_ms":10000,"mounts":[{"path":"/data","dev":"8:17","fstype":"xfs"},{"path":"/","level":1}]}`,
	`{"op":"open","v":2,"deadline_ms":10000,"mounts":[{"path":"/data/db"},{"path":"/srv"},{"path":"/data","level":1},{"path":"/srv2","level":1},{"path":"/","level":2}]}`,
	`{"op":"freeze"}`,
	`{"op":"thaw"}`,
	`{"op":"guard","v":2,"session":"0123456789abcdef","journal":"/run/ecssnap/freeze.json","grace_ms":500,"mounts":[{"path":"/"}]}`,
}

var validEvents = []string{
	`{"ev":"hello","v":2,"pid":123}`,
	`{"ev":"opened","mounts":[{"i":0,"status":"ok","dev":"8:17"},{"i":1,"status":"error","error":"open /x: no such file"}]}`,
	`{"ev":"frozen","mounts":[{"i":0,"status":"frozen","freeze_ns":1200},{"i":1,"status":"busy"}]}`,
	`{"ev":"thawed","reason":"request","held_ns":5300000,"mounts":[{"i":0,"status":"frozen","thawed":true}],"ops":[{"op":"freeze","i":0,"start_ns":0,"end_ns":10},{"op":"thaw","i":0,"start_ns":20,"end_ns":30}]}`,
	`{"ev":"error","error":"bad"}`,
	`{"ev":"ready","pid":124,"mounts":[{"i":0,"status":"ok"}]}`,
	`{"ev":"exit","reason":"helper-died","mounts":[{"i":0,"status":"thawed"}]}`,
	`{"ev":"arm","deadline_ms":10000}`,
	`{"ev":"busy","i":1}`,
	`{"ev":"done"}`,
}

func TestParseCommandValid(t *testing.T) {
	for _, l := range validCommands {
		c, err := parseCommand([]byte(l))
		if err != nil {
			t.Errorf("parseCommand(%s): %v", l, err)
			continue
		}
		again, err := parseCommand(encodeLine(c))
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Errorf("round trip of %s: %+v, %v", l, again, err)
		}
	}
}

func TestParseCommandRejects(t *testing.T) {
	tests := []struct{ name, line, want string }{
		{"empty", ``, "EOF"},
		{"not json", `freeze`, "invalid"},
		{"unknown op", `{"op":"explode"}`, "unknown op"},
		{"unknown field", `{"op":"freeze","force":true}`, "unknown field"},
		{"trailing data", `{"op":"freeze"} {"op":"thaw"}`, "trailing"},
		{"freeze with args", `{"op":"freeze","deadline_ms":5}`, "no arguments"},
		{"wrong version", `{"op":"open","v":1,"deadline_ms":1000,"mounts":[{"path":"/"}]}`, "version"},
		{"no mounts", `{"op":"open","v":2,"deadline_ms":1000,"mounts":[]}`, "0 mounts"},
		{"relative path", `{"op":"open","v":2,"deadline_ms":1000,"mounts":[{"path":"data"}]}`, "not clean and absolute"},
		{"unclean path", `{"op":"open","v":2,"deadline_ms":1000,"mounts":[{"path":"/data/../etc"}]}`, "not clean"},
		{"nul in path", `{"op":"open","v":2,"deadline_ms":1000,"mounts":[{"path":"/da\u0000ta"}]}`, "not clean"},
		{"bad dev", `{"op":"open","v":2,"deadline_ms":1000,"mounts":[{"path":"/","dev":"8-1"}]}`, "major:minor"},
		{"huge dev", `{"op":"open","v":2,"deadline_ms":1000,"mounts":[{"path":"/","dev":"99999999999:1"}]}`, "major:minor"},
		{"signed dev", `{"op":"open","v":2,"deadline_ms":1000,"mounts":[{"path":"/","dev":"+8:1"}]}`, "major:minor"},
		{"no deadline", `{"op":"open","v":2,"mounts":[{"path":"/"}]}`, "deadline_ms"},
		{"deadline over cap", `{"op":"open","v":2,"deadline_ms":60001,"mounts":[{"path":"/"}]}`, "deadline_ms"},
		{"guard fields in open", `{"op":"open","v":2,"deadline_ms":1000,"session":"0123456789abcdef","mounts":[{"path":"/"}]}`, "guard fields"},
		{"guard without session", `{"op":"guard","v":2,"journal":"/run/j","grace_ms":500,"mounts":[{"path":"/"}]}`, "session"},
		{"guard with a bad session", `{"op":"guard","v":2,"session":"../../x","journal":"/run/j","grace_ms":500,"mounts":[{"path":"/"}]}`, "session"},
		{"guard without journal", `{"op":"guard","v":2,"session":"0123456789abcdef","grace_ms":500,"mounts":[{"path":"/"}]}`, "journal"},
		{"guard without grace", `{"op":"guard","v":2,"session":"0123456789abcdef","journal":"/run/j","mounts":[{"path":"/"}]}`, "grace_ms"},
		{"negative level", `{"op":"open","v":2,"deadline_ms":1000,"mounts":[{"path":"/a","level":-1}]}`, "level -1"},
		{"level too high", `{"op":"open","v":2,"deadline_ms":1000,"mounts":[{"path":"/a","level":4096}]}`, "level 4096"},
		{"levels descending", `{"op":"open","v":2,"deadline_ms":1000,"mounts":[{"path":"/a","level":1},{"path":"/b"}]}`, "out of order"},
		{"parent at a lower level", `{"op":"open","v":2,"deadline_ms":1000,"mounts":[{"path":"/data"},{"path":"/data/db","level":1}]}`, "lower level"},
		{"child in its parent's level", `{"op":"open","v":2,"deadline_ms":1000,"mounts":[{"path":"/data/db"},{"path":"/data"}]}`, "lower level"},
		{"root beside a child", `{"op":"open","v":2,"deadline_ms":1000,"mounts":[{"path":"/"},{"path":"/boot"}]}`, "lower level"},
		{"guard levels checked too", `{"op":"guard","v":2,"session":"0123456789abcdef","journal":"/run/j","grace_ms":5,"mounts":[{"path":"/a"},{"path":"/a/b"}]}`, "lower level"},
		{"guard with deadline", `{"op":"guard","v":2,"session":"0123456789abcdef","journal":"/run/j","grace_ms":5,"deadline_ms":5,"mounts":[{"path":"/"}]}`, "deadline_ms"},
		{"too long", `{"op":"thaw","x":"` + strings.Repeat("a", maxLine) + `"}`, "exceeds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseCommand([]byte(tc.line))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, errProtocol) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want a protocol error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseEvent(t *testing.T) {
	for _, l := range validEvents {
		e, err := parseEvent([]byte(l))
		if err != nil {
			t.Errorf("parseEvent(%s): %v", l, err)
			continue
		}
		again, err := parseEvent(encodeLine(e))
		if err != nil || !reflect.DeepEqual(e, again) {
			t.Errorf("round trip of %s: %+v, %v", l, again, err)
		}
	}
	for _, l := range []string{
		`{"ev":"boom"}`,
		`{"ev":"hello","v":7}`,
		`{"ev":"busy","i":-1}`,
		`{"ev":"frozen","mounts":[{"i":0,"status":"melted"}]}`,
		`{"ev":"thawed","ops":[{"op":"thaw","i":0,"start_ns":5,"end_ns":1}]}`,
		`{"ev":"thawed","ops":[{"op":"exec","i":0,"start_ns":0,"end_ns":1}]}`,
		`{"ev":"arm","deadline_ms":3600000}`,
		`{"ev":"thawed","held_ns":-1}`,
		`{"ev":"opened","mounts":[{"i":0,"status":"ok","dev":"x"}]}`,
	} {
		if _, err := parseEvent([]byte(l)); !errors.Is(err, errProtocol) {
			t.Errorf("parseEvent(%s) = %v, want a protocol error", l, err)
		}
	}
}

// FuzzHelperProtocol feeds arbitrary lines to both parsers: they must never
// panic, whatever they accept must satisfy the invariants the helper relies
// on, and must survive a round trip unchanged.
func FuzzHelperProtocol(f *testing.F) {
	for _, l := range append(append([]string{}, validCommands...), validEvents...) {
		f.Add([]byte(l))
	}
	f.Add([]byte(`{"op":"open","v":2,"deadline_ms":1,"mounts":[{"path":"/\u00e9","dev":"0:0"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := parseCommand(data); err == nil {
			if c.Op == opOpen || c.Op == opGuard {
				if len(c.Mounts) == 0 || len(c.Mounts) > maxMounts {
					t.Fatalf("accepted %d mounts", len(c.Mounts))
				}
				for i, m := range c.Mounts {
					if !cleanAbs(m.Path) {
						t.Fatalf("accepted path %q", m.Path)
					}
					// Never a parent before, or beside, a mount inside it.
					for _, o := range c.Mounts[:i] {
						if isBelow(m.Path, o.Path) || o.Level == m.Level && isBelow(o.Path, m.Path) {
							t.Fatalf("accepted %q (level %d) after %q (level %d)", m.Path, m.Level, o.Path, o.Level)
						}
					}
				}
			}
			if c.Op == opOpen && (c.DeadlineMS <= 0 || c.DeadlineMS > MaxDeadline.Milliseconds()) {
				t.Fatalf("accepted deadline %d", c.DeadlineMS)
			}
			again, err := parseCommand(encodeLine(c))
			if c.Mounts != nil && len(c.Mounts) == 0 {
				c.Mounts = nil // omitempty: [] and absent mean the same
			}
			if err != nil || !reflect.DeepEqual(c, again) {
				t.Fatalf("command round trip: %+v -> %+v, %v", c, again, err)
			}
		}
		if e, err := parseEvent(data); err == nil {
			for _, r := range e.Mounts {
				if r.I < 0 || r.I >= maxMounts {
					t.Fatalf("accepted index %d", r.I)
				}
			}
			again, err := parseEvent(encodeLine(e))
			if len(e.Mounts) == 0 {
				e.Mounts = nil // omitempty: [] and absent mean the same
			}
			if len(e.Ops) == 0 {
				e.Ops = nil
			}
			if err != nil || !reflect.DeepEqual(e, again) {
				t.Fatalf("event round trip: %+v -> %+v, %v", e, again, err)
			}
		}
	})
}
