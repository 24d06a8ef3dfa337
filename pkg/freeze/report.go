package freeze

import (
	"strings"
	"time"

	"github.com/ecssnap/ecssnap/pkg/freeze/ioctl"
)

// Status is what happened to one mount.
type Status string

const (
	// StatusFrozen: frozen by us (and, after Thaw, thawed by us again).
	StatusFrozen Status = "frozen"
	// StatusSkipped: never attempted; Reason says why (Classify, a bind mount
	// of another target, the deadline reached before its turn, a FIFREEZE of
	// an earlier level failed).
	StatusSkipped Status = "skipped"
	// StatusAlreadyFrozenByOther: FIFREEZE said EBUSY. Someone else froze it;
	// it was left as it was and is never thawed by us.
	StatusAlreadyFrozenByOther Status = "already_frozen_by_other"
	// StatusNotSupported: the filesystem cannot freeze (EOPNOTSUPP).
	StatusNotSupported Status = "not_supported"
	// StatusError: opening or freezing failed; Reason has the error.
	StatusError Status = "error"
)

// MountResult is the outcome for one target.
type MountResult struct {
	Target Target
	Status Status // empty until Freeze for mounts that will be tried
	Reason string // why skipped, or the error text
	// Thawed is true once our FITHAW on it succeeded (only for StatusFrozen).
	Thawed bool
	// FreezeTook and ThawTook are the durations of the two ioctls.
	FreezeTook, ThawTook time.Duration
}

// Op is one ioctl issued by the helper. The ops of one nesting level run at
// once, so their Start..End intervals overlap.
type Op struct {
	Kind       string // "freeze" or "thaw"
	MountPoint string
	// Start and End are offsets from the start of the first FIFREEZE,
	// measured on the helper's monotonic clock.
	Start, End time.Duration
	Err        string // "" on success
}

// Report describes a freeze session so far.
type Report struct {
	// Mounts holds every target given to Prepare: those to freeze in freeze
	// order, then those skipped.
	Mounts []MountResult
	// Ops is every FIFREEZE and FITHAW in the order issued (by Start).
	Ops []Op
	// Held is the time from the start of the first FIFREEZE to the end of the
	// last FITHAW, on the helper's monotonic clock; zero if nothing was frozen
	// by us. Set by Thaw.
	Held time.Duration
	// ThawReason says why the helper thawed: "request" (Thaw or Close),
	// "deadline", "parent-gone", "signal:<name>" or "protocol-error".
	ThawReason string
}

// Frozen returns the mount points frozen by us, in freeze order.
func (r Report) Frozen() []string {
	var out []string
	for _, m := range r.Mounts {
		if m.Status == StatusFrozen {
			out = append(out, m.Target.MountPoint)
		}
	}
	return out
}

// FirstThaw is when the first of our FITHAWs began, as an offset from the
// start of the first FIFREEZE on the helper's monotonic clock; ok is false
// when the report holds no thaw (the helper never said it thawed).
func (r Report) FirstThaw() (at time.Duration, ok bool) {
	for _, op := range r.Ops {
		if op.Kind == "thaw" && (!ok || op.Start < at) {
			at, ok = op.Start, true
		}
	}
	return at, ok
}

// ThawedByOther reports whether one of our FITHAWs found its filesystem no
// longer frozen: someone else (the guard, an administrator) had thawed it
// first, at an instant nobody reported.
func (r Report) ThawedByOther() bool {
	for _, op := range r.Ops {
		if op.Kind == "thaw" && strings.Contains(op.Err, ioctl.ErrNotFrozen.Error()) {
			return true
		}
	}
	return false
}
