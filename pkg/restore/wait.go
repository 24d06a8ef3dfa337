package restore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ctxsleep"
)

// Options are a restore's dependencies and limits.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// Sleep waits between polls (default: a timer that honours ctx).
	Sleep func(ctx context.Context, d time.Duration) error
	// PollMin and PollMax bound the poll interval, which doubles from the
	// first to the second (defaults 250ms and 5s): short steps finish fast,
	// long ones cost few calls.
	PollMin, PollMax time.Duration
	// Timeout bounds each wait for the cloud (default 30m: a large disk's
	// first snapshot can take that long).
	Timeout time.Duration
	// Progress receives one line per step, for the user (nil: none).
	Progress func(msg string)
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = ctxsleep.Sleep
	}
	if o.PollMin <= 0 {
		o.PollMin = 250 * time.Millisecond
	}
	if o.PollMax < o.PollMin {
		o.PollMax = max(5*time.Second, o.PollMin)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Minute
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	return o
}

// TimeoutError is a wait for the cloud that ran out of time.
type TimeoutError struct {
	What  string
	After time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("timed out after %s waiting for %s; run the same command again to continue", e.After.Round(time.Second), e.What)
}

// waitFor polls check until it reports done, fails, or the wait times out.
func (o Options) waitFor(ctx context.Context, what string, check func() (bool, error)) error {
	start := o.Now()
	d := o.PollMin
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		if o.Now().Sub(start) > o.Timeout {
			return &TimeoutError{What: what, After: o.Now().Sub(start)}
		}
		if err := o.Sleep(ctx, d); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		d = min(d*2, o.PollMax)
	}
}

// token derives a ClientToken (at most 64 ASCII characters) from its parts,
// so that a rerun of the same step sends the same token.
func token(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return prefix + "-" + hex.EncodeToString(h.Sum(nil))[:32]
}

// hasCode reports whether err carries the API error code.
func hasCode(err error, code string) bool {
	var ae *cloud.APIError
	return errors.As(err, &ae) && ae.Code == code
}
