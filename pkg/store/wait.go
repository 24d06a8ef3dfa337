package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// OpenWait opens the store in dir for writing like Open, waiting up to
// limit while another process holds it: most often an ecssnap command
// that ran a job with no daemon, or the process it started to finish the
// job's bookkeeping, a round trip or two from done. waiting, when not nil,
// is told once, when the store is first found held.
func OpenWait(ctx context.Context, dir string, opts Options, limit time.Duration, waiting func(error)) (*Store, error) {
	start := time.Now()
	for told := false; ; told = true {
		st, err := Open(dir, opts)
		if !errors.Is(err, ErrLocked) {
			return st, err
		}
		held := time.Since(start)
		if held >= limit {
			return nil, fmt.Errorf("another ecssnap process has held the job store for %s: %w", limit, err)
		}
		if !told && waiting != nil {
			waiting(err)
		}
		// Briefly at first: the holder is most often about to let go.
		pause := 500 * time.Millisecond
		if held < 2*time.Second {
			pause = 20 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
	}
}
