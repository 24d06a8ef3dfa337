package freeze

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// Close implements Session.
func (s *helperSession) Close() error {
	s.closeOnce.Do(func() {
		// EOF first, without the lock: a Freeze or Thaw waiting under it then
		// gets the helper's thaw report and returns.
		if s.helper != nil {
			_ = s.helper.stdin.Close()
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.closeErr = s.closeLocked()
	})
	return s.closeErr
}

func (s *helperSession) closeLocked() error {
	if s.helper == nil {
		return nil
	}
	// Problems on the way matter only if, in the end, nobody confirmed the
	// thaw; otherwise they are logged.
	var problems []error
	if s.phase == sessFreezing || s.phase == sessFrozen {
		if _, err := s.thawLocked(); err != nil {
			problems = append(problems, err)
		}
	}
	if !s.helper.waitExit(exitLimit) {
		// Stuck (in FIFREEZE, or stopped). Killing it changes nothing for a
		// thread in the kernel but lets its pipe close when that returns,
		// which is the guard's cue.
		_ = s.helper.cmd.Process.Signal(syscall.SIGKILL)
		problems = append(problems, errors.New("freeze helper did not exit; killed"))
	}
	confirmed := s.thawConfirmed || !s.journalWritten
	if s.guard != nil {
		_ = s.guard.stdin.Close()
		limit := exitLimit
		if !confirmed {
			limit = s.opts.Deadline + GuardGrace + guardHelperWait + thawTotal
		}
		if err := s.awaitGuard(limit); err != nil {
			problems = append(problems, err)
		} else {
			confirmed = true
		}
	}
	if !confirmed {
		if err := s.lastResortThaw(); err != nil {
			problems = append(problems, err)
		} else {
			confirmed = true
		}
	}
	if confirmed && s.journalWritten {
		// Usually gone already (Thaw or the guard removed it); a journal
		// left after a confirmed thaw would only block the next freeze.
		if _, err := removeJournalIf(s.opts.JournalPath, s.id); err != nil {
			problems = append(problems, err)
		}
	}
	s.logBuf.release(context.Background(), s.opts.Logger.Handler())
	err := errors.Join(problems...)
	if err != nil && confirmed {
		s.log.Warn("freeze session closed after problems; everything is thawed", "error", err)
		return nil
	}
	return err
}

// awaitGuard waits for the guard's exit report. It returns nil when the
// guard has exited having thawed (or found nothing to thaw).
func (s *helperSession) awaitGuard(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last event
	for {
		e, ok, err := s.guard.next(context.Background(), max(time.Until(deadline), 0))
		if err != nil {
			return fmt.Errorf("freeze guard: %w", err)
		}
		if !ok {
			break
		}
		if e.Ev == evExit {
			last = e
		}
	}
	s.guard.waitExit(time.Second)
	if last.Ev != evExit {
		return fmt.Errorf("no exit report: %w", childGone(s.guard))
	}
	for _, r := range last.Mounts {
		if r.Status == wsError && r.I < len(s.targets) {
			return fmt.Errorf("freeze guard could not thaw %s: %s", s.targets[r.I].MountPoint, r.Error)
		}
	}
	if len(last.Mounts) > 0 {
		s.log.Warn("freeze guard thawed", "reason", last.Reason, "mounts", len(last.Mounts))
	}
	return nil
}

// lastResortThaw thaws, from this process, every mount the journal lists
// except those someone else froze, when neither helper nor guard confirmed.
func (s *helperSession) lastResortThaw() error {
	var ms []JournalMount
	for i, t := range s.targets {
		if st := s.report.Mounts[i].Status; st != StatusAlreadyFrozenByOther && st != StatusError && st != StatusSkipped {
			ms = append(ms, JournalMount{MountPoint: t.MountPoint, Dev: t.Dev, FSType: t.FSType})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), thawTotal+thawStep*time.Duration(len(ms)))
	defer cancel()
	out, err := thawJournal(ctx, ms)
	for _, m := range out {
		s.log.Warn("freeze: thawed by the owner as a last resort", "mount", m.MountPoint, "result", m.Result, "error", m.Error)
	}
	if err != nil {
		return fmt.Errorf("last-resort thaw: %w", err)
	}
	if _, err := removeJournalIf(s.opts.JournalPath, s.id); err != nil {
		return err
	}
	return nil
}
