package ecsemu

import (
	"sync"
	"time"
)

// Clock is the emulator's source of "cloud time": snapshot creation times,
// progress, retention expiry, STS and metadata token lifetimes.
type Clock interface {
	Now() time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns the current wall-clock time in UTC.
func (RealClock) Now() time.Time { return time.Now().UTC() }

// VirtualClock is a Clock that only moves when told to. Tests use it to
// drive snapshots to completion or past their retention instantly.
// It is safe for concurrent use.
type VirtualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewVirtualClock returns a VirtualClock reading start.
func NewVirtualClock(start time.Time) *VirtualClock {
	// Strip the monotonic reading: a virtual time must compare and format
	// only by its wall value.
	return &VirtualClock{now: start.UTC().Round(0)}
}

// Now returns the virtual time.
func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (backwards if d is negative).
func (c *VirtualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *VirtualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t.UTC().Round(0)
}
