package freeze

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/ecssnap/ecssnap/pkg/freeze/ioctl"
)

// Recover undoes a freeze whose owner died. If a journal exists at
// journalPath and its owner and helper are both dead (pid and start time no
// longer match), or its deadline has passed, it thaws every listed mount
// (harmless on a thawed filesystem), reports what it thawed and removes the
// journal. A live owner within its deadline is left alone. Every start of
// ecssnap and of the daemon calls it.
//
// The journal cannot say which mounts someone else had frozen (EBUSY): that
// is learned only after writing it, and nothing is written while frozen.
// The guard knows and handles them; Recover only runs when the guard too
// failed, and then thaws everything listed.
func Recover(ctx context.Context, journalPath string, logger *slog.Logger) (RecoverReport, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return recoverer{procRoot: procRoot, now: time.Now, log: logger}.run(ctx, journalPath)
}

// recoverer carries Recover's injected roots and clock.
type recoverer struct {
	procRoot string
	now      func() time.Time
	log      *slog.Logger
}

func (rc recoverer) run(ctx context.Context, path string) (RecoverReport, error) {
	if path == "" {
		path = DefaultJournalPath
	}
	j, err := readJournal(path)
	if errors.Is(err, os.ErrNotExist) {
		return RecoverReport{Action: RecoverNone}, nil
	}
	if err != nil {
		return RecoverReport{Found: true}, fmt.Errorf("recover: %w", err)
	}
	rep := RecoverReport{Found: true, JobID: j.JobID, Owner: j.Owner}
	alive := processAlive(rc.procRoot, j.Owner) || processAlive(rc.procRoot, j.Helper)
	if alive && rc.now().Before(j.Deadline) {
		rep.Action = RecoverLeftActive
		rc.log.Info("freeze journal belongs to a live job", "job", j.JobID, "owner_pid", j.Owner.PID, "deadline", j.Deadline)
		return rep, nil
	}
	rep.Action = RecoverThawed
	rep.Mounts, err = thawJournal(ctx, j.Mounts)
	for _, m := range rep.Mounts {
		rc.log.Warn("freeze recovery", "job", j.JobID, "mount", m.MountPoint, "result", m.Result, "error", m.Error)
	}
	if err != nil {
		// Keep the journal: the next start tries again.
		return rep, fmt.Errorf("recover job %s: %w", j.JobID, err)
	}
	if _, err := removeJournalIf(path, j.Session); err != nil {
		return rep, fmt.Errorf("recover job %s: %w", j.JobID, err)
	}
	return rep, nil
}

// thawJournal thaws the listed mounts in reverse order. Each path is
// checked against the recorded device first, so that a path that now shows
// another filesystem is left alone. The work runs on a goroutine so that
// ctx bounds the wait even if the kernel does not return.
func thawJournal(ctx context.Context, mounts []JournalMount) ([]RecoveredMount, error) {
	type answer struct {
		out []RecoveredMount
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		out, err := thawJournalNow(mounts)
		ch <- answer{out, err}
	}()
	select {
	case a := <-ch:
		return a.out, a.err
	case <-ctx.Done():
		return nil, fmt.Errorf("thaw journal mounts: %w", ctx.Err())
	}
}

func thawJournalNow(mounts []JournalMount) ([]RecoveredMount, error) {
	out := make([]RecoveredMount, len(mounts))
	var fds, idx []int
	var errs []error
	for k := len(mounts) - 1; k >= 0; k-- {
		m := mounts[k]
		out[k] = RecoveredMount{MountPoint: m.MountPoint}
		fd, _, err := openMountFD(wireMount{Path: m.MountPoint, Dev: m.Dev, FSType: m.FSType})
		if err != nil {
			out[k].Result, out[k].Error = RecoveredChanged, err.Error()
			if !errors.Is(err, errMountChanged) && !errors.Is(err, os.ErrNotExist) {
				out[k].Result = RecoveredError
				errs = append(errs, err)
			}
			continue
		}
		fds = append(fds, fd)
		idx = append(idx, k)
	}
	for n, r := range thawBounded(ioctl.Thaw, fds, thawStep, thawTotal) {
		k := idx[n]
		switch {
		case r.pending:
			out[k].Result, out[k].Error = RecoveredError, "FITHAW did not return in time"
			errs = append(errs, fmt.Errorf("thaw %s: timed out", mounts[k].MountPoint))
			continue // leave the fd to the goroutine still using it
		case r.err == nil:
			out[k].Result = RecoveredThawed
		case errors.Is(r.err, ioctl.ErrNotFrozen), errors.Is(r.err, ioctl.ErrNotSupported):
			out[k].Result = RecoveredNotFrozen
		default:
			out[k].Result, out[k].Error = RecoveredError, r.err.Error()
			errs = append(errs, fmt.Errorf("thaw %s: %w", mounts[k].MountPoint, r.err))
		}
		closeFD(fds[n])
	}
	return out, errors.Join(errs...)
}
