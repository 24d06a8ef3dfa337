package freeze

import (
	"cmp"
	"slices"
	"time"
)

// finish thaws everything this helper froze, in reverse level order,
// reports, and returns the exit code. It is the only way out of the main
// loop.
func (h *freezeHelper) finish(reason string) int {
	h.abort.Store(true)
	// Results that arrive from here on must not be announced as "frozen":
	// the parent would take a snapshot of filesystems being thawed. The
	// final "thawed" event carries them.
	h.frozenSent = true
	inflight := false
	if h.workerDone != nil {
		h.drain()
		h.thawFrozen()
		// FIFREEZEs still in the kernel (a level has several): wait for
		// them, bounded, and thaw each as soon as it returns.
		t := time.NewTimer(inflightWait)
	wait:
		for {
			select {
			case r := <-h.results:
				h.record(r)
				h.thawFrozen()
			case <-h.workerDone:
				h.drain()
				break wait
			case <-t.C:
				inflight = true
				break wait
			}
		}
		t.Stop()
		h.thawFrozen()
	}
	allThawed := !inflight
	for _, m := range h.mounts {
		if m.status == wsFrozen && !m.thawed {
			allThawed = false
		}
	}
	h.out.send(event{Ev: evThawed, Reason: reason, HeldNS: int64(h.held()), Mounts: h.results4wire(), Ops: h.opsWire()})
	if h.phase >= phaseFreezing && allThawed {
		_ = h.tellGuard(event{Ev: evDone})
	}
	h.out.close(pipeWriteLimit)
	if !allThawed {
		return 1
	}
	return 0
}

func (h *freezeHelper) drain() {
	for {
		select {
		case r := <-h.results:
			h.record(r)
		default:
			return
		}
	}
}

// thawFrozen thaws every mount frozen by us and not yet thawed, one level
// at a time in reverse (/ first, then what is mounted inside, down to the
// leaves), the members of a level at once: a child is thawed only after its
// parent, so that its writeback finds the parent writable.
func (h *freezeHelper) thawFrozen() {
	var idx, fds [][]int
	for k := len(h.levels) - 1; k >= 0; k-- {
		var li, lf []int
		for _, i := range h.levels[k] {
			if m := h.mounts[i]; m.status == wsFrozen && !m.thawed {
				li = append(li, i)
				lf = append(lf, m.thawFD)
			}
		}
		if len(li) > 0 {
			idx = append(idx, li)
			fds = append(fds, lf)
		}
	}
	if len(idx) == 0 {
		return
	}
	for b, rs := range thawBatches(h.fs.Thaw, fds, thawStep, thawTotal) {
		for k, r := range rs {
			i := idx[b][k]
			m := h.mounts[i]
			if r.pending {
				m.err = "FITHAW did not return in time"
				continue
			}
			h.ops = append(h.ops, timedOp{kind: opThaw, i: i, start: r.start, end: r.end, err: errText(r.err)})
			m.thawTook = r.end.Sub(r.start)
			if harmlessThaw(r.err) {
				m.thawed = true
			} else {
				m.err = r.err.Error()
			}
		}
	}
}

// held is the time from the start of the first FIFREEZE to the end of the
// last FITHAW, on the monotonic clock; zero if we froze nothing.
func (h *freezeHelper) held() time.Duration {
	var first, last time.Time
	froze := false
	for _, op := range h.ops {
		if op.kind == opFreeze && (first.IsZero() || op.start.Before(first)) {
			first = op.start
		}
		if op.kind == opFreeze && op.err == "" {
			froze = true
		}
		if op.kind == opThaw && op.end.After(last) {
			last = op.end
		}
	}
	if !froze || last.IsZero() {
		return 0
	}
	return last.Sub(first)
}

func (h *freezeHelper) results4wire() []wireResult {
	out := make([]wireResult, len(h.mounts))
	for i, m := range h.mounts {
		out[i] = wireResult{I: i, Status: m.status, Dev: devIf(m), Error: m.err,
			FreezeNS: int64(m.freezeTook), ThawNS: int64(m.thawTook), Thawed: m.thawed}
	}
	return out
}

// opsWire renders the op log ordered by start: the order the ioctls were
// issued in, which the log itself (kept in the order they returned) is
// not once the members of a level run at once.
func (h *freezeHelper) opsWire() []wireOp {
	if len(h.ops) == 0 {
		return nil
	}
	epoch := h.ops[0].start
	for _, op := range h.ops {
		if op.start.Before(epoch) {
			epoch = op.start
		}
	}
	out := make([]wireOp, len(h.ops))
	for k, op := range h.ops {
		out[k] = wireOp{Kind: op.kind, I: op.i, StartNS: int64(op.start.Sub(epoch)), EndNS: int64(op.end.Sub(epoch)), Error: op.err}
	}
	slices.SortStableFunc(out, func(a, b wireOp) int { return cmp.Compare(a.StartNS, b.StartNS) })
	return out
}
