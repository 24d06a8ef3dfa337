package freeze

import (
	"io"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"
)

// helperRun is the helper's main loop running in this process over pipes,
// with a fake filesystem: the logic without root and without risk.
type helperRun struct {
	in     io.WriteCloser
	events <-chan event
	guard  <-chan event // what the helper told the guard
	guardR *os.File
	sigs   chan os.Signal
	code   chan int
}

func startHelperLoop(t *testing.T, fs fsOps) *helperRun {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	gr, gw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	h := &helperRun{in: inW, guardR: gr, sigs: make(chan os.Signal, 1), code: make(chan int, 1)}
	h.events = eventStream(outR)
	h.guard = eventStream(gr)
	go func() {
		h.code <- runFreezeHelper(inR, outW, gw, h.sigs, fs)
		outW.Close()
		gw.Close()
	}()
	t.Cleanup(func() { inW.Close() })
	return h
}

func (h *helperRun) send(t *testing.T, c command) {
	t.Helper()
	if _, err := h.in.Write(encodeLine(c)); err != nil {
		t.Fatal(err)
	}
}

// openAndFreeze runs the protocol up to "frozen" (or returns early if
// wantFrozen is false).
func (h *helperRun) openAndFreeze(t *testing.T, ms []wireMount, deadline time.Duration, wantFrozen bool) event {
	t.Helper()
	expectEvent(t, h.events, evHello)
	h.send(t, command{Op: opOpen, Version: protocolVersion, DeadlineMS: deadline.Milliseconds(), Mounts: ms})
	opened := expectEvent(t, h.events, evOpened)
	for _, r := range opened.Mounts {
		if r.Status != wsOK {
			t.Fatalf("open: %+v", r)
		}
	}
	h.send(t, command{Op: opFreeze})
	if !wantFrozen {
		return event{}
	}
	return expectEvent(t, h.events, evFrozen)
}

// TestHelperHungForeverLeavesItToGuard: a FIFREEZE that does not return
// within inflightWait: the helper thaws the rest, reports, exits non-zero
// and does not tell the guard "done", so the guard thaws once the helper's
// pipe closes (after that ioctl returns).
func TestHelperHungForeverLeavesItToGuard(t *testing.T) {
	if testing.Short() {
		t.Skip("waits inflightWait")
	}
	fs, ms := newFakeFS(t, 2)
	release := fs.hangOn(2)
	h := startHelperLoop(t, fs)
	h.openAndFreeze(t, ms, 200*time.Millisecond, false)
	thawed := expectEvent(t, h.events, evThawed)
	if thawed.Reason != "deadline" {
		t.Errorf("reason %q", thawed.Reason)
	}
	if code := waitCode(t, h.code); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	expectEvent(t, h.guard, evArm)
	if e, ok := nextEvent(t, h.guard); ok {
		t.Errorf("guard told %+v; want silence, then EOF", e)
	}
	release()
}

func TestHelperBusyNeverThawed(t *testing.T) {
	fs, ms := newFakeFS(t, 2)
	fs.setFrozen(2, true)
	h := startHelperLoop(t, fs)
	frozen := h.openAndFreeze(t, ms, 10*time.Second, true)
	if frozen.Mounts[1].Status != wsBusy {
		t.Errorf("%+v", frozen.Mounts)
	}
	expectEvent(t, h.guard, evArm)
	if e := expectEvent(t, h.guard, evBusy); e.I != 1 {
		t.Errorf("busy %d", e.I)
	}
	h.send(t, command{Op: opThaw})
	expectEvent(t, h.events, evThawed)
	if got := fs.ops(); !slices.Equal(got, []string{"freeze 1", "thaw 1"}) {
		t.Errorf("filesystem saw %v", got)
	}
}

// TestHelperThawsOnItsOwn: every way the helper can learn it must stop.
func TestHelperThawsOnItsOwn(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		do           func(t *testing.T, h *helperRun)
	}{
		{"stdin EOF", "parent-gone", func(t *testing.T, h *helperRun) { h.in.Close() }},
		{"signal", "signal:terminated", func(t *testing.T, h *helperRun) { h.sigs <- syscall.SIGTERM }},
		{"ignored signal then EOF", "parent-gone", func(t *testing.T, h *helperRun) {
			h.sigs <- syscall.SIGWINCH
			h.in.Close()
		}},
		{"garbage", "protocol-error", func(t *testing.T, h *helperRun) { h.in.Write([]byte("rm -rf /\n")) }},
		{"freeze twice", "protocol-error", func(t *testing.T, h *helperRun) { h.send(t, command{Op: opFreeze}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, ms := newFakeFS(t, 2)
			h := startHelperLoop(t, fs)
			h.openAndFreeze(t, ms, 10*time.Second, true)
			tc.do(t, h)
			for {
				e, ok := nextEvent(t, h.events)
				if !ok {
					t.Fatal("no thawed event")
				}
				if e.Ev == evThawed {
					if e.Reason != tc.reason {
						t.Errorf("reason %q, want %q", e.Reason, tc.reason)
					}
					break
				}
			}
			if fs.anyFrozen() {
				t.Errorf("left frozen: %v", fs.ops())
			}
			waitCode(t, h.code)
		})
	}
}

// TestHelperRefusesWithoutGuard: no guard listening, nothing frozen.
func TestHelperRefusesWithoutGuard(t *testing.T) {
	fs, ms := newFakeFS(t, 1)
	h := startHelperLoop(t, fs)
	h.guardR.Close()
	h.openAndFreeze(t, ms, 10*time.Second, false)
	if e := expectEvent(t, h.events, evError); e.Error == "" {
		t.Error("no reason given")
	}
	expectEvent(t, h.events, evThawed)
	if got := fs.ops(); len(got) != 0 {
		t.Errorf("filesystem saw %v", got)
	}
}
