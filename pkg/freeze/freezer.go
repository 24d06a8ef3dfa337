package freeze

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ecssnap/ecssnap/pkg/freeze/ioctl"
)

// HelperEnv names the environment variable that turns this binary into the
// freeze helper ("helper") or the guard ("guard"). Every main that can start
// a Session must begin with:
//
//	if os.Getenv(freeze.HelperEnv) != "" {
//		os.Exit(freeze.RunHelper())
//	}
const HelperEnv = "ECSSNAP_FREEZE_HELPER"

const (
	// DefaultDeadline is how long filesystems may stay frozen when
	// SessionOptions.Deadline is zero.
	DefaultDeadline = 10 * time.Second
	// MaxDeadline caps SessionOptions.Deadline: beyond it a frozen system
	// disk stalls services long enough to trip their own watchdogs.
	MaxDeadline = 60 * time.Second
	// GuardGrace is how long after the deadline the guard waits for the
	// helper before it thaws by itself.
	GuardGrace = 500 * time.Millisecond
)

// Errors returned by the low-level calls and by sessions; test with errors.Is.
var (
	ErrAlreadyFrozen = ioctl.ErrAlreadyFrozen
	ErrNotSupported  = ioctl.ErrNotSupported
	ErrNotFrozen     = ioctl.ErrNotFrozen
	// ErrThawedEarly: the filesystems were thawed before Thaw was called
	// (deadline, signal, helper died), so a snapshot taken in the window may
	// not be consistent.
	ErrThawedEarly = errors.New("filesystems were thawed before Thaw was called")
	// ErrFreezeFailed: at least one mount could not be frozen for a reason
	// other than EBUSY or EOPNOTSUPP; see the Report.
	ErrFreezeFailed = errors.New("some filesystems could not be frozen")
	// ErrSessionState: a Session method was called out of order.
	ErrSessionState = errors.New("freeze session used out of order")
)

// Freezer prepares freeze sessions. The real one is NewHelperFreezer; tests
// of code that orchestrates a freeze use freezetest.Fake.
type Freezer interface {
	// Prepare classifies targets, starts the helper and the guard and has
	// them open every mount point. Nothing is frozen or written yet, so all
	// slow work (and any exec) happens here.
	Prepare(ctx context.Context, targets []Target, opts SessionOptions) (Session, error)
}

// SessionOptions configure one freeze.
type SessionOptions struct {
	// Deadline is the longest the filesystems stay frozen, counted from the
	// start of the first FIFREEZE; 0 means DefaultDeadline, larger values
	// than MaxDeadline are capped.
	Deadline time.Duration
	// JobID names the job in the journal.
	JobID string
	// JournalPath is where the journal goes; "" means DefaultJournalPath.
	// It must be on tmpfs (or at least never on a filesystem being frozen).
	JournalPath string
	// Logger receives the session's records. While anything is frozen they
	// are buffered in memory and handed over after the thaw, since the
	// logger may write to a frozen disk. Nil discards.
	Logger *slog.Logger
	// Now is the wall clock for the journal's deadline; nil means time.Now.
	Now func() time.Time
}

// Session is one freeze. Use it from a single goroutine, except Close,
// which may be called concurrently as a last resort.
type Session interface {
	// Freeze writes the journal, then freezes every prepared mount. A non-nil
	// error with ErrFreezeFailed leaves the rest frozen (the levels after the
	// failure are not attempted and reported skipped); call Thaw or Close.
	Freeze(ctx context.Context) (Report, error)
	// Thaw thaws in reverse level order and removes the journal once the
	// thaw is confirmed. It thaws even when ctx is already done.
	Thaw(ctx context.Context) (Report, error)
	// Close leaves everything thawed and the helper and guard gone; it is
	// safe after any error and idempotent.
	Close() error
}

func (o SessionOptions) withDefaults() SessionOptions {
	if o.Deadline <= 0 {
		o.Deadline = DefaultDeadline
	}
	o.Deadline = min(o.Deadline, MaxDeadline)
	if o.JournalPath == "" {
		o.JournalPath = DefaultJournalPath
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
