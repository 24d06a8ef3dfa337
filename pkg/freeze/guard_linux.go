package freeze

import (
	"errors"
	"io"
	"os"
	"time"
)

const (
	// guardConfigWait bounds the wait for the guard's configuration line.
	guardConfigWait = 30 * time.Second
	// guardLinger bounds how long a guard with nothing left to protect waits
	// for the last pipe to close.
	guardLinger = 30 * time.Second
	// guardHelperWait bounds how long the guard, having thawed, waits for a
	// helper still alive (or still in FIFREEZE) to go away before thawing a
	// second time.
	guardHelperWait = 10 * time.Second
)

// guard enforces the deadline when the helper cannot. It is started in its
// own session and is not the helper's child, so the signals and deaths that
// end the helper and its parent do not reach it. It learns what happens
// from two pipes rather than by polling: its stdin from the owner (EOF: the
// owner is done or dead) and fd 3 from the helper (arm, busy, done; EOF: the
// helper is gone, and only once its last FIFREEZE has returned).
type guard struct {
	fs     fsOps
	cfg    command
	out    *asyncWriter
	fds    []int    // -1 where the mount could not be opened
	devs   []uint64 // st_dev of each open fd
	busy   map[uint64]bool
	armed  bool
	done   bool
	helper <-chan line // nil after EOF
	owner  <-chan line // nil after EOF
	timer  <-chan time.Time
	linger <-chan time.Time
}

func runGuard(in io.Reader, out io.Writer, helperPipe *os.File, sigs <-chan os.Signal, fs fsOps) int {
	g := &guard{out: newAsyncWriter(out), busy: map[uint64]bool{}, fs: fs}
	defer g.out.close(pipeWriteLimit)
	if helperPipe == nil {
		g.out.send(event{Ev: evError, Error: "no helper pipe on fd 3"})
		return 2
	}
	g.owner = readLines(in)
	if !g.configure(sigs) {
		return 2
	}
	g.helper = readLines(helperPipe)
	g.openAll()
	for {
		select {
		case l, ok := <-g.helper:
			if !ok {
				g.helper = nil
				if g.armed && !g.done {
					return g.thawNow("helper-died")
				}
				if g.owner == nil || !g.armed {
					return g.exit("helper-exited")
				}
				g.startLinger()
				continue
			}
			g.hear(l)
		case _, ok := <-g.owner:
			// The owner sends nothing after the configuration; only EOF matters.
			if ok {
				continue
			}
			g.owner = nil
			if g.helper == nil {
				return g.exit("owner-done")
			}
			// The helper is still there: it will thaw and exit on its own
			// (its parent is gone too, or has asked it to); the timer and
			// its pipe's EOF cover the case where it cannot.
			if !g.armed {
				g.startLinger()
			}
		case <-g.timer:
			if !g.done {
				return g.thawNow("deadline")
			}
		case <-g.linger:
			return g.exit("linger")
		case s := <-sigs:
			if ignoredSignal(s) {
				continue
			}
			if g.armed && !g.done {
				return g.thawNow("signal:" + s.String())
			}
			return g.exit("signal:" + s.String())
		}
	}
}

// configure reads the configuration line from the owner.
func (g *guard) configure(sigs <-chan os.Signal) bool {
	t := time.NewTimer(guardConfigWait)
	defer t.Stop()
	for {
		select {
		case l, ok := <-g.owner:
			if !ok {
				return false
			}
			c, err := parseCommand(l.data)
			if err == nil && c.Op != opGuard {
				err = protoErr("want %q, got %q", opGuard, c.Op)
			}
			if err != nil {
				g.out.send(event{Ev: evError, Error: err.Error()})
				return false
			}
			g.cfg = c
			return true
		case s := <-sigs:
			if !ignoredSignal(s) {
				return false
			}
		case <-t.C:
			return false
		}
	}
}

func (g *guard) openAll() {
	ev := event{Ev: evReady, PID: os.Getpid()}
	for i, m := range g.cfg.Mounts {
		fd, dev, err := g.fs.Open(m)
		r := wireResult{I: i, Status: wsOK}
		if err != nil {
			r.Status, r.Error = wsError, err.Error()
		} else {
			r.Dev = devString(dev)
		}
		g.fds = append(g.fds, fd)
		g.devs = append(g.devs, dev)
		ev.Mounts = append(ev.Mounts, r)
	}
	g.out.send(ev)
}

// hear handles one line from the helper. A line that does not parse is
// ignored: the helper's death, not its grammar, is what the guard acts on.
func (g *guard) hear(l line) {
	e, err := parseEvent(l.data)
	if err != nil || l.err != nil {
		return
	}
	switch e.Ev {
	case evArm:
		if !g.armed {
			g.armed = true
			g.timer = time.After(time.Duration(e.DeadlineMS)*time.Millisecond + time.Duration(g.cfg.GraceMS)*time.Millisecond)
		}
		if g.owner == nil && g.helper != nil {
			// Armed after the owner vanished: the timer now governs.
			g.linger = nil
		}
	case evBusy:
		if e.I < len(g.fds) && g.fds[e.I] >= 0 {
			g.busy[g.devs[e.I]] = true
		}
	case evDone:
		g.done = true
	}
}

func (g *guard) startLinger() {
	if g.linger == nil {
		g.linger = time.After(guardLinger)
	}
}

// thawNow thaws every listed mount that someone else had not frozen, if the
// journal still names this job; waits (bounded) for a helper that is still
// there, and then thaws again, because a FIFREEZE the helper had in the
// kernel can complete after our first thaw.
func (g *guard) thawNow(reason string) int {
	if !g.journalIsOurs() {
		return g.exit(reason + ",journal-gone")
	}
	results := g.thawListed()
	if g.helper != nil {
		t := time.NewTimer(guardHelperWait)
	wait:
		for {
			select {
			case l, ok := <-g.helper:
				if !ok {
					g.helper = nil
					break wait
				}
				g.hear(l)
			case <-t.C:
				break wait
			}
		}
		t.Stop()
		if !g.done {
			results = g.thawListed()
		}
	}
	g.removeJournal()
	g.out.send(event{Ev: evExit, Reason: reason, Mounts: results})
	return 0
}

func (g *guard) thawListed() []wireResult {
	var idx, fds []int
	for i := len(g.fds) - 1; i >= 0; i-- {
		if g.fds[i] >= 0 && !g.busy[g.devs[i]] {
			idx = append(idx, i)
			fds = append(fds, g.fds[i])
		}
	}
	var out []wireResult
	for k, r := range thawBounded(g.fs.Thaw, fds, thawStep, thawTotal) {
		w := wireResult{I: idx[k], Status: wsThawed}
		switch {
		case r.pending:
			w.Status, w.Error = wsError, "FITHAW did not return in time"
		case !harmlessThaw(r.err):
			w.Status, w.Error = wsError, r.err.Error()
		}
		out = append(out, w)
	}
	return out
}

// journalIsOurs reports whether the journal still names our session. A journal
// that cannot be read or parsed counts as ours: thawing needlessly is
// harmless, not thawing is not.
func (g *guard) journalIsOurs() bool {
	j, err := readJournal(g.cfg.Journal)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false
	case err != nil:
		return true
	}
	return j.Session == g.cfg.Session
}

func (g *guard) removeJournal() {
	_, _ = removeJournalIf(g.cfg.Journal, g.cfg.Session)
}

// exit ends a guard that did not need to thaw. A journal of our session
// that the owner did not get to remove is stale if the helper confirmed its
// thaw, or is gone without ever arming us (so it froze nothing): remove it,
// so that the next Recover does not thaw what someone else may have frozen
// since.
func (g *guard) exit(reason string) int {
	if g.armed && g.done || !g.armed && g.helper == nil {
		g.removeJournal()
	}
	for _, fd := range g.fds {
		closeFD(fd)
	}
	g.out.send(event{Ev: evExit, Reason: reason})
	return 0
}
