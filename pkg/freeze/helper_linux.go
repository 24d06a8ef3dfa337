package freeze

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// helperIdleLimit ends a helper that was never told to freeze.
	helperIdleLimit = 15 * time.Minute
	// thawStep and thawTotal bound the thaw of each mount and of the rest
	// once one is stuck (see thawBounded).
	thawStep  = time.Second
	thawTotal = 5 * time.Second
	// inflightWait is how long a finishing helper waits for FIFREEZEs still
	// in the kernel, to thaw each when it returns. Past that the guard, which
	// sees our pipe close only once the last of them has returned, takes over.
	inflightWait = 5 * time.Second
	// pipeWriteLimit bounds a write to the guard.
	pipeWriteLimit = time.Second
)

// Helper phases.
const (
	phaseIdle = iota
	phaseOpened
	phaseFreezing
	phaseFrozen
)

// helperMount is one mount point held open by the helper. freezeFD is used
// only by the freeze worker's goroutines and thawFD only by the thaw path,
// so that a thaw never waits on anything the worker holds.
type helperMount struct {
	wireMount
	freezeFD, thawFD int
	dev              uint64
	status           string // wire status: ok, error, skipped, then frozen, busy, unsupported
	err              string
	freezeTook       time.Duration
	thawTook         time.Duration
	thawed           bool
}

type timedOp struct {
	kind       string
	i          int
	start, end time.Time
	err        string
}

type freezeHelper struct {
	fs       fsOps
	out      *asyncWriter
	guard    *os.File
	guardMu  sync.Mutex // the freeze goroutines and the main loop write to the guard
	mounts   []*helperMount
	deadline time.Duration
	phase    int
	// deadlineC fires at the deadline; nil until the freeze starts.
	deadlineC <-chan time.Time

	// levels holds the indices of the mounts to freeze, one slice per
	// nesting level in freeze order; set when the freeze starts.
	levels     [][]int
	abort      atomic.Bool
	results    chan freezeOutcome
	workerDone chan struct{}
	waiting    int // outcomes not yet received
	frozenSent bool
	ops        []timedOp
}

// runFreezeHelper is the helper's main loop. Everything that can block (pipe
// reads and writes, FIFREEZE) runs on other goroutines, so the loop always
// reaches the deadline, the signal or the EOF that ends the freeze.
func runFreezeHelper(in io.Reader, out io.Writer, guard *os.File, sigs <-chan os.Signal, fs fsOps) int {
	h := &freezeHelper{out: newAsyncWriter(out), guard: guard, fs: fs}
	h.out.send(event{Ev: evHello, Version: protocolVersion, PID: os.Getpid()})
	cmds := readLines(in)
	idle := time.NewTimer(helperIdleLimit)
	defer idle.Stop()
	for {
		select {
		case l, ok := <-cmds:
			if !ok {
				return h.finish("parent-gone")
			}
			c, err := parseCommand(l.data)
			if l.err != nil {
				err = fmt.Errorf("%w: %w", errProtocol, l.err)
			}
			if err == nil {
				err = h.handle(c)
			}
			if c.Op == opThaw && err == nil {
				return h.finish("request")
			}
			if err != nil {
				// A confused parent must not keep anything frozen.
				h.out.send(event{Ev: evError, Error: err.Error()})
				return h.finish("protocol-error")
			}
		case r := <-h.results:
			h.record(r)
		case <-h.deadlineC:
			return h.finish("deadline")
		case s := <-sigs:
			if !ignoredSignal(s) {
				return h.finish("signal:" + s.String())
			}
		case <-idle.C:
			if h.phase < phaseFreezing {
				return h.finish("idle")
			}
		case <-h.out.broken:
			return h.finish("parent-gone")
		}
	}
}

func (h *freezeHelper) handle(c command) error {
	switch {
	case c.Op == opOpen && h.phase == phaseIdle:
		h.open(c)
		return nil
	case c.Op == opFreeze && h.phase == phaseOpened:
		return h.startFreeze()
	case c.Op == opThaw:
		return nil
	}
	return protoErr("%q not allowed now", c.Op)
}

// open opens every mount point twice before anything is frozen: opening
// (a path walk) later could cross a frozen filesystem.
func (h *freezeHelper) open(c command) {
	h.deadline = time.Duration(c.DeadlineMS) * time.Millisecond
	ev := event{Ev: evOpened}
	for i, wm := range c.Mounts {
		m := &helperMount{wireMount: wm, freezeFD: -1, thawFD: -1, status: wsOK}
		h.mounts = append(h.mounts, m)
		if err := m.openFDs(h.fs); err != nil {
			m.status, m.err = wsError, err.Error()
		} else if j := h.sameDevice(i); j >= 0 {
			m.status, m.err = wsSkipped, "same filesystem as "+h.mounts[j].Path
		}
		ev.Mounts = append(ev.Mounts, wireResult{I: i, Status: m.status, Dev: devIf(m), Error: m.err})
	}
	// Threads for the widest level are made now, while nothing is frozen:
	// if the system cannot give us one, the helper ends here rather than
	// in the middle of a freeze.
	h.fs.Prepare(h.widestLevel())
	h.phase = phaseOpened
	h.out.send(ev)
}

// widestLevel returns the number of open mounts in the largest level.
func (h *freezeHelper) widestLevel() int {
	count := map[int]int{}
	widest := 0
	for _, m := range h.mounts {
		if m.status == wsOK {
			count[m.Level]++
			widest = max(widest, count[m.Level])
		}
	}
	return widest
}

func devIf(m *helperMount) string {
	if m.freezeFD < 0 {
		return ""
	}
	return devString(m.dev)
}

func (m *helperMount) openFDs(fs fsOps) error {
	fd, dev, err := fs.Open(m.wireMount)
	if err != nil {
		return err
	}
	fd2, dev2, err := fs.Open(m.wireMount)
	if err != nil {
		closeFD(fd)
		return err
	}
	if dev2 != dev {
		closeFD(fd)
		closeFD(fd2)
		return fmt.Errorf("%s changed while being opened", m.Path)
	}
	m.freezeFD, m.thawFD, m.dev = fd, fd2, dev
	return nil
}

// sameDevice returns the index of an earlier open mount on the same device.
func (h *freezeHelper) sameDevice(i int) int {
	for j := range i {
		if h.mounts[j].status == wsOK && h.mounts[j].dev == h.mounts[i].dev {
			return j
		}
	}
	return -1
}

// tellGuard writes one line to the guard, bounded by pipeWriteLimit.
func (h *freezeHelper) tellGuard(e event) error {
	h.guardMu.Lock()
	defer h.guardMu.Unlock()
	if h.guard == nil {
		return errors.New("no guard pipe on fd 3")
	}
	if err := h.guard.SetWriteDeadline(time.Now().Add(pipeWriteLimit)); err != nil {
		return fmt.Errorf("guard pipe: %w", err)
	}
	if _, err := h.guard.Write(encodeLine(e)); err != nil {
		return fmt.Errorf("guard pipe: %w", err)
	}
	return nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
