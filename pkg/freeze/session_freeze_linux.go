package freeze

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Freeze implements Session.
func (s *helperSession) Freeze(ctx context.Context) (Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase != sessPrepared {
		return s.report, fmt.Errorf("freeze: %w", ErrSessionState)
	}
	if err := ctx.Err(); err != nil {
		return s.report, fmt.Errorf("freeze: %w", err)
	}
	if s.helper == nil {
		s.phase = sessFrozen
		return s.report, nil
	}
	if err := s.writeJournal(); err != nil {
		return s.report, err
	}
	// From here until the thaw nothing of ours may touch a disk.
	s.logBuf.hold()
	s.phase = sessFreezing
	if err := s.helper.send(command{Op: opFreeze}); err != nil {
		s.phase = sessBroken
		return s.report, err
	}
	for {
		e, ok, err := s.helper.next(ctx, s.opts.Deadline+answerSlack)
		switch {
		case err != nil:
			// Cancelled or no answer: nothing may stay frozen because of it.
			rep, terr := s.thawLocked()
			return rep, errors.Join(fmt.Errorf("freeze: %w", err), terr)
		case !ok:
			s.phase = sessBroken
			return s.report, fmt.Errorf("freeze: %w", childGone(s.helper))
		case e.Ev == evFrozen:
			s.apply(e)
			s.phase = sessFrozen
			return s.report, s.freezeErr()
		case e.Ev == evThawed:
			s.apply(e)
			s.finishThaw()
			return s.report, fmt.Errorf("freeze: %w (%s)", ErrThawedEarly, e.Reason)
		case e.Ev == evError:
			s.log.Warn("freeze helper refused a command", "error", e.Error)
		}
	}
}

func (s *helperSession) writeJournal() error {
	owner, err := processID(procRoot, os.Getpid())
	if err != nil {
		return fmt.Errorf("freeze journal: %w", err)
	}
	now := s.opts.Now()
	j := Journal{Version: journalVersion, JobID: s.opts.JobID, Session: s.id, Owner: owner, Helper: s.helper.id, Guard: s.guard.id,
		Created: now, Deadline: now.Add(s.opts.Deadline)}
	for i, t := range s.targets {
		if s.report.Mounts[i].Status == "" {
			j.Mounts = append(j.Mounts, JournalMount{MountPoint: t.MountPoint, Dev: t.Dev, FSType: t.FSType})
		}
	}
	if err := createJournal(s.opts.JournalPath, j); err != nil {
		return err
	}
	s.journalWritten = true
	return nil
}

// freezeErr reports mounts that failed for reasons other than EBUSY and
// EOPNOTSUPP, which are outcomes, not failures.
func (s *helperSession) freezeErr() error {
	var errs []error
	for _, m := range s.report.Mounts {
		if m.Status == StatusError {
			errs = append(errs, fmt.Errorf("%s: %s", m.Target.MountPoint, m.Reason))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("freeze: %w: %w", ErrFreezeFailed, errors.Join(errs...))
}

// Thaw implements Session. The wait is bounded by the deadline, not by ctx:
// a cancelled caller still gets its filesystems thawed.
func (s *helperSession) Thaw(ctx context.Context) (Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.phase {
	case sessPrepared, sessThawed:
		return s.report, nil
	}
	if s.helper == nil {
		s.phase = sessThawed
		return s.report, nil
	}
	return s.thawLocked()
}

// thawLocked asks the helper to thaw and waits for its report.
func (s *helperSession) thawLocked() (Report, error) {
	_ = s.helper.send(command{Op: opThaw}) // a dead helper: its stdout closes below
	for {
		e, ok, err := s.helper.next(context.Background(), s.opts.Deadline+answerSlack)
		switch {
		case err != nil:
			s.phase = sessBroken
			s.logBuf.release(context.Background(), s.opts.Logger.Handler())
			return s.report, fmt.Errorf("thaw: no report from the freeze helper, the guard thaws instead: %w", err)
		case !ok:
			s.phase = sessBroken
			s.logBuf.release(context.Background(), s.opts.Logger.Handler())
			return s.report, fmt.Errorf("thaw: freeze helper exited without a report, the guard thaws instead: %w", childGone(s.helper))
		case e.Ev == evFrozen:
			s.apply(e)
		case e.Ev == evThawed:
			s.apply(e)
			s.finishThaw()
			if e.Reason != "request" {
				return s.report, fmt.Errorf("thaw: %w (%s)", ErrThawedEarly, e.Reason)
			}
			if !s.thawConfirmed {
				return s.report, errors.New("thaw: the freeze helper could not confirm every thaw; the guard retries")
			}
			return s.report, nil
		}
	}
}

// finishThaw runs after the helper's final report: it reaps the helper,
// removes the journal if every thaw is confirmed and hands over the logs.
func (s *helperSession) finishThaw() {
	s.phase = sessThawed
	if !s.thawConfirmed {
		s.phase = sessBroken
	}
	s.helper.waitExit(exitLimit)
	if s.thawConfirmed && s.journalWritten {
		if _, err := removeJournalIf(s.opts.JournalPath, s.id); err != nil {
			s.log.Warn("remove freeze journal", "error", err)
		}
	}
	s.logBuf.release(context.Background(), s.opts.Logger.Handler())
	s.log.Info("filesystems thawed", "job", s.opts.JobID, "held", s.report.Held,
		"frozen", s.report.Frozen(), "reason", s.report.ThawReason)
}

// apply merges a frozen or thawed event into the report.
func (s *helperSession) apply(e event) {
	for _, r := range e.Mounts {
		if r.I >= len(s.targets) {
			continue
		}
		m := &s.report.Mounts[r.I]
		m.FreezeTook, m.ThawTook, m.Thawed = time.Duration(r.FreezeNS), time.Duration(r.ThawNS), r.Thawed
		switch r.Status {
		case wsFrozen:
			m.Status, m.Reason = StatusFrozen, r.Error
		case wsBusy:
			m.Status, m.Reason = StatusAlreadyFrozenByOther, "frozen by someone else; left as it was"
		case wsUnsupported:
			m.Status, m.Reason = StatusNotSupported, r.Error
		case wsError:
			m.Status, m.Reason = StatusError, r.Error
		case wsSkipped:
			m.Status, m.Reason = StatusSkipped, r.Error
		case wsOK:
			m.Status, m.Reason = StatusSkipped, "not frozen: the session ended first"
		}
	}
	if e.Ev != evThawed {
		return
	}
	s.report.Held = time.Duration(e.HeldNS)
	s.report.ThawReason = e.Reason
	s.report.Ops = s.report.Ops[:0]
	for _, op := range e.Ops {
		if op.I < len(s.targets) {
			s.report.Ops = append(s.report.Ops, Op{Kind: op.Kind, MountPoint: s.targets[op.I].MountPoint,
				Start: time.Duration(op.StartNS), End: time.Duration(op.EndNS), Err: op.Error})
		}
	}
	s.thawConfirmed = true
	for _, m := range s.report.Mounts {
		if m.Status == StatusFrozen && !m.Thawed {
			s.thawConfirmed = false
		}
	}
}
