// Package ctxsleep is the one way the agent, the emulator and the
// harnesses pause between polls and retries: a sleep that a context ends
// early.
package ctxsleep

import (
	"context"
	"time"
)

// Sleep waits for d or until ctx ends, whichever is first, and returns
// ctx's error when it ended first. A d of zero or less does not wait: it
// returns ctx's error, if any.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
