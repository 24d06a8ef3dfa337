package dataplane

import "sync"

// gate admits a disk's writes. Closing it blocks new writes and waits for
// the ones already inside this process; those never wait on the guest, so
// closing cannot deadlock on the loop device (which serialises its queue:
// a read of a paused device blocks too). Holds by the operator (Pause) and
// by captures are counted apart, so Pause and Resume are idempotent and a
// capture during a Pause neither ends it nor waits for it.
type gate struct {
	mu       sync.Mutex
	cond     sync.Cond
	held     bool // Pause/Resume
	captures int  // captures in progress
	inflight int
}

func newGate() *gate {
	g := &gate{}
	g.cond.L = &g.mu
	return g
}

func (g *gate) closedLocked() bool { return g.held || g.captures > 0 }

// enter waits until the gate is open and counts one write in flight.
func (g *gate) enter() {
	g.mu.Lock()
	for g.closedLocked() {
		g.cond.Wait()
	}
	g.inflight++
	g.mu.Unlock()
}

// exit ends a write.
func (g *gate) exit() {
	g.mu.Lock()
	g.inflight--
	if g.inflight == 0 {
		g.cond.Broadcast()
	}
	g.mu.Unlock()
}

// drainLocked waits until no write is in flight.
func (g *gate) drainLocked() {
	for g.inflight > 0 {
		g.cond.Wait()
	}
}

// hold closes the gate for the operator; a second hold is a no-op.
func (g *gate) hold() {
	g.mu.Lock()
	g.held = true
	g.drainLocked()
	g.mu.Unlock()
}

// release opens what hold closed; releasing an open gate is a no-op.
func (g *gate) release() {
	g.mu.Lock()
	if g.held {
		g.held = false
		g.cond.Broadcast()
	}
	g.mu.Unlock()
}

// closeForCapture closes the gate for a capture and waits for writes in flight.
func (g *gate) closeForCapture() {
	g.mu.Lock()
	g.captures++
	g.drainLocked()
	g.mu.Unlock()
}

// openAfterCapture undoes one closeForCapture.
func (g *gate) openAfterCapture() {
	g.mu.Lock()
	g.captures--
	if !g.closedLocked() {
		g.cond.Broadcast()
	}
	g.mu.Unlock()
}

// paused reports whether the operator holds the gate.
func (g *gate) paused() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held
}
