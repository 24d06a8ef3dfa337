// Package freezetest provides a fake freeze.Freezer for tests of code that
// orchestrates a freeze (the engine), so that they run without root, loop
// devices or a helper process, and can check the order of calls.
package freezetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ecssnap/ecssnap/pkg/freeze"
)

// Call is one recorded call on the fake or one of its sessions.
type Call struct {
	Op          string // "prepare", "freeze", "thaw", "close"
	JobID       string
	MountPoints []string // prepare: what will be frozen; freeze/thaw: in the order acted on
}

// Fake implements freeze.Freezer. Set its fields before use; it is safe for
// concurrent use afterwards. The zero value freezes everything Classify
// allows and reports success.
type Fake struct {
	// Errors returned by the corresponding calls (after recording them).
	PrepareErr, FreezeErr, ThawErr, CloseErr error
	// Status sets the outcome per mount point; the default is
	// freeze.StatusFrozen. Only StatusFrozen mounts count as frozen.
	Status map[string]freeze.Status
	// Held is reported by Thaw.
	Held time.Duration
	// ThawReason is the reason Thaw reports: "" is "request". The window
	// ending early: "deadline", "signal:terminated", ...
	ThawReason string
	// ThawedAt, with a ThawReason other than "request", is when the
	// helper's first FITHAW began, counted from the freeze; a thaw on
	// request is reported when Thaw is called.
	ThawedAt time.Duration
	// HelperGone makes Thaw answer as when the helper was killed: no thaw
	// report (no reason, no thaw ops) and an error.
	HelperGone bool
	// ThawedByOther makes our FITHAWs find the filesystems already thawed.
	ThawedByOther bool
	// OnFreeze and OnThaw run inside Freeze and Thaw, after the state has
	// changed: a test can check there what the caller does while frozen.
	OnFreeze, OnThaw func()

	mu     sync.Mutex
	calls  []Call
	frozen map[string]bool
}

var _ freeze.Freezer = (*Fake)(nil)

// Calls returns every call so far, in order.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Ops returns the names of the calls so far, in order.
func (f *Fake) Ops() []string {
	var out []string
	for _, c := range f.Calls() {
		out = append(out, c.Op)
	}
	return out
}

// Frozen returns the mount points the fake holds frozen now, sorted. A
// correct caller leaves it empty after Close.
func (f *Fake) Frozen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for mp, on := range f.frozen {
		if on {
			out = append(out, mp)
		}
	}
	slices.Sort(out)
	return out
}

func (f *Fake) record(c Call) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

func (f *Fake) setFrozen(mps []string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.frozen == nil {
		f.frozen = map[string]bool{}
	}
	for _, mp := range mps {
		f.frozen[mp] = on
	}
}

// Prepare implements freeze.Freezer.
func (f *Fake) Prepare(ctx context.Context, targets []freeze.Target, opts freeze.SessionOptions) (freeze.Session, error) {
	order, skipped := freeze.Classify(targets)
	s := &session{fake: f, job: opts.JobID}
	for _, t := range order {
		s.order = append(s.order, t.MountPoint)
		s.report.Mounts = append(s.report.Mounts, freeze.MountResult{Target: t})
	}
	for _, sk := range skipped {
		s.report.Mounts = append(s.report.Mounts, freeze.MountResult{Target: sk.Target, Status: freeze.StatusSkipped, Reason: sk.Reason})
	}
	f.record(Call{Op: "prepare", JobID: opts.JobID, MountPoints: slices.Clone(s.order)})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.PrepareErr != nil {
		return nil, f.PrepareErr
	}
	return s, nil
}

type session struct {
	fake   *Fake
	job    string
	order  []string
	report freeze.Report

	mu       sync.Mutex
	state    string // "", "frozen", "thawed", "closed"
	frozen   []string
	frozenAt time.Time
}

func (s *session) Freeze(ctx context.Context) (freeze.Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fake.record(Call{Op: "freeze", JobID: s.job, MountPoints: slices.Clone(s.order)})
	if s.state != "" {
		return s.report, fmt.Errorf("fake freeze in state %q: %w", s.state, freeze.ErrSessionState)
	}
	if err := ctx.Err(); err != nil {
		return s.report, err
	}
	s.state = "frozen"
	s.frozenAt = time.Now()
	for i := range s.report.Mounts {
		m := &s.report.Mounts[i]
		if m.Status == freeze.StatusSkipped {
			continue
		}
		m.Status = freeze.StatusFrozen
		if st, ok := s.fake.Status[m.Target.MountPoint]; ok {
			m.Status = st
		}
		if m.Status == freeze.StatusFrozen {
			s.frozen = append(s.frozen, m.Target.MountPoint)
		}
	}
	s.fake.setFrozen(s.frozen, true)
	if s.fake.OnFreeze != nil {
		s.fake.OnFreeze()
	}
	return s.report, s.fake.FreezeErr
}

func (s *session) Thaw(ctx context.Context) (freeze.Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.thawLocked("thaw")
}

func (s *session) thawLocked(op string) (freeze.Report, error) {
	reversed := slices.Clone(s.frozen)
	slices.Reverse(reversed)
	s.fake.record(Call{Op: op, JobID: s.job, MountPoints: reversed})
	if s.state != "frozen" {
		return s.report, nil
	}
	s.state = "thawed"
	s.fake.setFrozen(s.frozen, false)
	for i := range s.report.Mounts {
		if s.report.Mounts[i].Status == freeze.StatusFrozen {
			s.report.Mounts[i].Thawed = true
		}
	}
	if s.fake.OnThaw != nil {
		s.fake.OnThaw()
	}
	if s.fake.HelperGone {
		return s.report, errors.Join(errors.New("thaw: freeze helper exited without a report, the guard thaws instead"), s.fake.ThawErr)
	}
	s.report.Held, s.report.ThawReason = s.fake.Held, "request"
	thawAt := time.Since(s.frozenAt)
	if s.fake.ThawReason != "" && s.fake.ThawReason != "request" {
		s.report.ThawReason, thawAt = s.fake.ThawReason, s.fake.ThawedAt
	}
	var thawErr string
	if s.fake.ThawedByOther {
		thawErr = "FITHAW: " + freeze.ErrNotFrozen.Error() + ": invalid argument"
	}
	for _, mp := range s.frozen {
		s.report.Ops = append(s.report.Ops, freeze.Op{Kind: "freeze", MountPoint: mp})
	}
	for i := len(s.frozen) - 1; i >= 0; i-- {
		s.report.Ops = append(s.report.Ops, freeze.Op{Kind: "thaw", MountPoint: s.frozen[i], Start: thawAt, End: thawAt, Err: thawErr})
	}
	if op == "thaw" {
		return s.report, s.fake.ThawErr
	}
	return s.report, nil
}

// Close thaws whatever is still frozen, like the real one, and records
// "close" (once per call, so that a test can see double closes).
func (s *session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == "frozen" {
		_, _ = s.thawLocked("close-thaw")
	}
	s.fake.record(Call{Op: "close", JobID: s.job})
	s.state = "closed"
	return s.fake.CloseErr
}
