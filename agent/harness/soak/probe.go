package soak

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// probeFile is rewritten by the probe; probePause separates rewrites.
	probeFile  = ".soak-probe"
	probePause = 20 * time.Millisecond
	// stallMin is the shortest blocked write counted as a freeze seen.
	stallMin = 100 * time.Millisecond
	// frozenHint: a probe write blocked this long means "frozen now" for
	// the kill tallies (an unfrozen one takes well under a millisecond).
	frozenHint = 10 * time.Millisecond
)

// probe measures how long its filesystem stays frozen. Creating and
// writing a file on a frozen filesystem blocks until the thaw (the kernel
// holds writers at sb_start_write), so a rewrite loop sees every freeze as
// a write that took as long as the freeze, minus at most one pause.
type probe struct {
	mount string
	limit time.Duration // the freeze deadline plus the margin
	event func(format string, args ...any)

	since atomic.Int64 // UnixNano when the write in flight started; 0 if none

	mu      sync.Mutex
	stalls  int
	longest time.Duration
	past    []string // one line per freeze longer than limit
	err     error
}

func (p *probe) run(ctx context.Context) {
	path := filepath.Join(p.mount, probeFile)
	for ctx.Err() == nil {
		start := time.Now()
		p.since.Store(start.UnixNano())
		err := os.WriteFile(path, []byte(start.Format(time.RFC3339Nano)), 0o644)
		took := time.Since(start)
		p.since.Store(0)
		p.observe(start, took, err)
		select {
		case <-ctx.Done():
		case <-time.After(probePause):
		}
	}
}

func (p *probe) observe(start time.Time, took time.Duration, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("probe write on %s: %w", p.mount, err)
	}
	if took < stallMin {
		return
	}
	p.stalls++
	p.longest = max(p.longest, took)
	if p.event != nil {
		p.event("probe: %s blocked %s from %s", p.mount, took.Round(time.Millisecond), start.UTC().Format("15:04:05.000"))
	}
	if took > p.limit {
		p.past = append(p.past, fmt.Sprintf("%s frozen for %s from %s (limit %s)",
			p.mount, took.Round(time.Millisecond), start.UTC().Format("15:04:05.000"), p.limit))
	}
}

// blocked returns how long the write in flight has been blocked, 0 if none.
func (p *probe) blocked(now time.Time) time.Duration {
	if s := p.since.Load(); s != 0 {
		return now.Sub(time.Unix(0, s))
	}
	return 0
}

// probeStats is a probe's summary.
type probeStats struct {
	Stalls  int
	Longest time.Duration
	Past    []string
	Err     error
}

func (p *probe) stats() probeStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return probeStats{Stalls: p.stalls, Longest: p.longest, Past: append([]string(nil), p.past...), Err: p.err}
}
