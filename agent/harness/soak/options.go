// Package soak is ecssnap's reliability soak. It runs the real daemon
// binary against the emulator (pkg/ecsemu) for a set time, on loop
// filesystems that a writer keeps appending fsynced records to, while
// jobs are asked for without pause and everything that can go wrong does:
// throttling, 5xx, responses dropped after the call took effect, metadata
// outages, and SIGKILLs of the daemon and of the freeze helper at random
// instants. Then it checks what must never happen: a snapshot taken twice,
// a filesystem frozen past its deadline, an accepted job missing from the
// store, acknowledged data lost.
package soak

import (
	"io"
	"time"
)

// Options configure Run.
type Options struct {
	Duration time.Duration // how long the faults go on
	Ecssnap  string        // the built ecssnap binary
	FSTypes  []string      // one loop filesystem each
	// FreezeDeadline is the daemon's freeze.deadline; a filesystem frozen
	// longer than FreezeDeadline+FreezeMargin counts as frozen past it.
	FreezeDeadline time.Duration
	FreezeMargin   time.Duration
	// KillEvery bounds the random interval between daemon kills;
	// HelperKill is the share of freeze helpers killed, and WindowKill the
	// share of helper starts that get the daemon killed instead (soon after,
	// while its freeze window is likely open).
	KillEvery  [2]time.Duration
	HelperKill float64
	WindowKill float64
	Seed       uint64
	// Dir is the scratch directory's parent ("" for the system default);
	// Keep leaves the scratch directory (logs, store, images) in place.
	Dir  string
	Keep bool
	// Progress receives a line now and then while the soak runs.
	Progress io.Writer
}

// drainWait bounds the final drain of every accepted job.
const drainWait = 5 * time.Minute
