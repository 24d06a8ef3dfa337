package freeze

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecssnap/ecssnap/pkg/freeze/ioctl"
)

// Why a mount was not attempted, as reported on the wire.
const (
	skipAborted = "thaw began before its turn"
	skipFailed  = "not attempted: an earlier FIFREEZE failed"
)

// freezeOutcome is one FIFREEZE result sent from the worker.
type freezeOutcome struct {
	i          int
	start, end time.Time
	err        error
	skip       string // why it was not attempted; "" if it was
}

// startFreeze arms the guard, then starts the worker that freezes level by
// level. Without a guard that heard "arm" nothing is frozen.
func (h *freezeHelper) startFreeze() error {
	h.preSync()
	if err := h.tellGuard(event{Ev: evArm, DeadlineMS: ms(h.deadline)}); err != nil {
		return fmt.Errorf("guard is not listening, refusing to freeze: %w", err)
	}
	n := 0
	for i, m := range h.mounts {
		if m.status != wsOK {
			continue
		}
		// The levels ascend along the list (parseCommand checked), so a
		// new level begins wherever the number changes.
		if last := len(h.levels) - 1; last < 0 || h.mounts[h.levels[last][0]].Level != m.Level {
			h.levels = append(h.levels, nil)
		}
		h.levels[len(h.levels)-1] = append(h.levels[len(h.levels)-1], i)
		n++
	}
	// The clock starts before the first FIFREEZE, in this goroutine, so
	// nothing the worker does can delay it.
	h.deadlineC = time.After(h.deadline)
	h.phase = phaseFreezing
	// Room for every outcome: no sender ever blocks on the main loop.
	h.results = make(chan freezeOutcome, n)
	h.workerDone = make(chan struct{})
	h.waiting = n
	fds := make([]int, len(h.mounts))
	for i, m := range h.mounts {
		fds[i] = m.freezeFD
	}
	go h.freezeWorker(h.levels, fds)
	if n == 0 {
		h.sendFrozen()
	}
	return nil
}

// freezeWorker freezes one level after another. The members of a level are
// distinct superblocks, none mounted inside another, so their FIFREEZEs
// run at once, each on its own goroutine (and thread while in the kernel):
// a level costs its slowest sync, not the sum of them. A level starts only
// once every FIFREEZE of the one before has returned, which is what keeps
// children frozen before their parents. After a real failure the remaining
// levels are not attempted: the owner thaws on ErrFreezeFailed anyway, and
// freezing the parents would only stall their writers for nothing.
//
// The worker may block in the kernel for as long as writers take to drain;
// the main loop does not wait for it, and workerDone closes only when no
// FIFREEZE of ours is left in the kernel.
func (h *freezeHelper) freezeWorker(levels [][]int, fds []int) {
	defer close(h.workerDone)
	skip := ""
	for _, level := range levels {
		if skip == "" && h.abort.Load() {
			skip = skipAborted
		}
		if skip != "" {
			for _, i := range level {
				h.results <- freezeOutcome{i: i, skip: skip}
			}
			continue
		}
		var wg sync.WaitGroup
		var failed atomic.Bool
		for _, i := range level {
			wg.Go(func() {
				if h.freezeOne(i, fds[i]) {
					failed.Store(true)
				}
			})
		}
		wg.Wait()
		if failed.Load() {
			skip = skipFailed
		}
	}
}

// freezeOne issues one FIFREEZE and sends its outcome; it reports whether
// the freeze failed for a reason other than EBUSY or EOPNOTSUPP.
func (h *freezeHelper) freezeOne(i, fd int) (failed bool) {
	// The thaw may have begun while this goroutine waited for a thread.
	if h.abort.Load() {
		h.results <- freezeOutcome{i: i, skip: skipAborted}
		return false
	}
	start := time.Now()
	err := h.fs.Freeze(fd)
	end := time.Now()
	if errors.Is(err, ioctl.ErrAlreadyFrozen) {
		// Tell the guard before anything else, so that it never thaws a
		// filesystem someone else froze, even if we die right now.
		_ = h.tellGuard(event{Ev: evBusy, I: i})
	}
	h.results <- freezeOutcome{i: i, start: start, end: end, err: err}
	return err != nil && !errors.Is(err, ioctl.ErrAlreadyFrozen) && !errors.Is(err, ioctl.ErrNotSupported)
}

// record applies one outcome; it runs on the main loop only, which thus owns
// the mounts' state and the op log.
func (h *freezeHelper) record(r freezeOutcome) {
	h.waiting--
	m := h.mounts[r.i]
	switch {
	case r.skip != "":
		m.status, m.err = wsSkipped, r.skip
	default:
		h.ops = append(h.ops, timedOp{kind: opFreeze, i: r.i, start: r.start, end: r.end, err: errText(r.err)})
		m.freezeTook = r.end.Sub(r.start)
		switch {
		case r.err == nil:
			m.status = wsFrozen
		case errors.Is(r.err, ioctl.ErrAlreadyFrozen):
			m.status, m.err = wsBusy, r.err.Error()
		case errors.Is(r.err, ioctl.ErrNotSupported):
			m.status, m.err = wsUnsupported, r.err.Error()
		default:
			m.status, m.err = wsError, r.err.Error()
		}
	}
	if h.waiting == 0 && !h.frozenSent {
		h.sendFrozen()
	}
}

func (h *freezeHelper) sendFrozen() {
	h.frozenSent = true
	h.phase = phaseFrozen
	h.out.send(event{Ev: evFrozen, Mounts: h.results4wire()})
}

// preSyncLimit bounds the flush before the freeze: past it the freeze goes
// ahead and FIFREEZE syncs whatever is left.
const preSyncLimit = 2 * time.Second

// preSync flushes every filesystem to be frozen, all at once, before the
// deadline starts and before anything is frozen: the writes FIFREEZE would
// otherwise flush inside the window are on disk already.
func (h *freezeHelper) preSync() {
	done := make(chan struct{}, len(h.mounts))
	n := 0
	for _, m := range h.mounts {
		if m.status != wsOK {
			continue
		}
		n++
		go func(fd int) {
			_ = h.fs.Sync(fd)
			done <- struct{}{}
		}(m.freezeFD)
	}
	limit := time.NewTimer(preSyncLimit)
	defer limit.Stop()
	for ; n > 0; n-- {
		select {
		case <-done:
		case <-limit.C:
			return
		}
	}
}
