package freeze

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const testSession = "0123456789abcdef"

// guardRun is the guard's main loop running in this process over pipes.
type guardRun struct {
	owner   io.WriteCloser // the owner's end of the guard's stdin
	helper  *os.File       // the helper's end of the guard's fd 3
	events  <-chan event
	code    chan int
	journal string
}

// startGuardLoop starts a guard over fake mounts with a journal naming
// journalSession, and waits until it is ready.
func startGuardLoop(t *testing.T, fs fsOps, ms []wireMount, journalSession string, grace time.Duration) *guardRun {
	t.Helper()
	ownerR, ownerW := io.Pipe()
	outR, outW := io.Pipe()
	hr, hw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	g := &guardRun{owner: ownerW, helper: hw, code: make(chan int, 1), journal: filepath.Join(t.TempDir(), "freeze.json")}
	j := Journal{Version: journalVersion, JobID: "guarded", Session: journalSession}
	for _, m := range ms {
		j.Mounts = append(j.Mounts, JournalMount{MountPoint: m.Path})
	}
	if err := createJournal(g.journal, j); err != nil {
		t.Fatal(err)
	}
	g.events = eventStream(outR)
	go func() {
		g.code <- runGuard(ownerR, outW, hr, make(chan os.Signal), fs)
		outW.Close()
		hr.Close()
	}()
	t.Cleanup(func() {
		ownerW.Close()
		hw.Close()
	})
	cfg := command{Op: opGuard, Version: protocolVersion, Session: testSession, Journal: g.journal, GraceMS: grace.Milliseconds(), Mounts: ms}
	if _, err := ownerW.Write(encodeLine(cfg)); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, g.events, evReady)
	return g
}

func (g *guardRun) tell(t *testing.T, e event) {
	t.Helper()
	if _, err := g.helper.Write(encodeLine(e)); err != nil {
		t.Fatal(err)
	}
}

// exit waits for the guard's exit event and its return.
func (g *guardRun) exit(t *testing.T) event {
	t.Helper()
	e := expectEvent(t, g.events, evExit)
	waitCode(t, g.code)
	return e
}

// TestGuardHelperDied: the helper's pipe closes after "arm" without
// "done": the guard thaws at once, every mount except the one someone
// else froze, and removes the journal.
func TestGuardHelperDied(t *testing.T) {
	fs, ms := newFakeFS(t, 3)
	g := startGuardLoop(t, fs, ms, testSession, 500*time.Millisecond)
	fs.setFrozen(1, false)
	fs.setFrozen(2, true) // someone else's
	fs.setFrozen(3, false)
	g.tell(t, event{Ev: evArm, DeadlineMS: 10000})
	g.tell(t, event{Ev: evBusy, I: 1})
	g.helper.Close()
	e := g.exit(t)
	if e.Reason != "helper-died" {
		t.Errorf("reason %q", e.Reason)
	}
	if got := fs.ops(); !slices.Equal(got, []string{"thaw 3", "thaw 1"}) {
		t.Errorf("filesystem saw %v, want a reverse-order thaw without the busy one", got)
	}
	if !journalGone(g.journal)() {
		t.Error("journal kept")
	}
}

// TestGuardDeadline: the helper neither thaws nor dies (stopped): the
// guard thaws at the deadline plus the grace, and again once the helper's
// pipe closes, in case a FIFREEZE was still in the kernel.
func TestGuardDeadline(t *testing.T) {
	fs, ms := newFakeFS(t, 1)
	const deadline, grace = 200 * time.Millisecond, 100 * time.Millisecond
	g := startGuardLoop(t, fs, ms, testSession, grace)
	fs.setFrozen(1, false)
	armed := time.Now()
	g.tell(t, event{Ev: evArm, DeadlineMS: deadline.Milliseconds()})
	eventually(t, settleLimit, "guard thaws at its deadline", func() bool {
		_, ok := fs.opAt("thaw", 1)
		return ok
	})
	at, _ := fs.opAt("thaw", 1)
	if took := at.Sub(armed); took < deadline+grace || took > deadline+grace+time.Second {
		t.Errorf("thawed %v after arm, want about %v", took, deadline+grace)
	}
	fs.setFrozen(1, false) // the late FIFREEZE completes
	g.helper.Close()
	if e := g.exit(t); e.Reason != "deadline" {
		t.Errorf("reason %q", e.Reason)
	}
	if fs.anyFrozen() {
		t.Errorf("the late freeze was not thawed: %v", fs.ops())
	}
}

// TestGuardQuiet covers the ways a guard ends without touching anything.
func TestGuardQuiet(t *testing.T) {
	for _, tc := range []struct {
		name, journalSession, reason string
		run                          func(t *testing.T, g *guardRun)
		journalKept                  bool
	}{
		{"helper done, owner closes", testSession, "owner-done|helper-exited", func(t *testing.T, g *guardRun) {
			g.tell(t, event{Ev: evArm, DeadlineMS: 10000})
			g.tell(t, event{Ev: evDone})
			g.helper.Close()
			g.owner.Close()
		}, false},
		{"never armed", testSession, "helper-exited", func(t *testing.T, g *guardRun) {
			g.owner.Close()
			g.helper.Close()
		}, false},
		{"another session's journal", "fedcba9876543210", "helper-died,journal-gone", func(t *testing.T, g *guardRun) {
			g.tell(t, event{Ev: evArm, DeadlineMS: 10000})
			g.helper.Close()
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, ms := newFakeFS(t, 2)
			g := startGuardLoop(t, fs, ms, tc.journalSession, 500*time.Millisecond)
			tc.run(t, g)
			e := g.exit(t)
			// Which pipe's EOF the guard sees last is a race; either is fine.
			if !slices.Contains(strings.Split(tc.reason, "|"), e.Reason) {
				t.Errorf("reason %q, want %q", e.Reason, tc.reason)
			}
			if got := fs.ops(); len(got) != 0 {
				t.Errorf("filesystem saw %v", got)
			}
			if kept := !journalGone(g.journal)(); kept != tc.journalKept {
				t.Errorf("journal kept=%v, want %v", kept, tc.journalKept)
			}
		})
	}
}
