package freeze

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

const (
	// startLimit bounds the start of helper and guard (a large binary on a
	// busy machine) and their opening of every mount point.
	startLimit = 30 * time.Second
	// answerSlack is added to the deadline when waiting for the helper:
	// by then it has thawed on its own and said so.
	answerSlack = 5 * time.Second
	// exitLimit bounds the wait for a helper or guard that has nothing left
	// to do.
	exitLimit = 5 * time.Second
)

// Session phases.
const (
	sessPrepared = iota
	sessFreezing
	sessFrozen
	sessThawed
	sessBroken // the helper vanished without confirming a thaw
)

type helperFreezer struct {
	exe    string
	logger *slog.Logger
}

// NewHelperFreezer returns the real Freezer. exe is the binary to re-execute
// as helper and guard; its main must call RunHelper when HelperEnv is set.
// "" means /proc/self/exe: this process's own image, which stays
// executable even when a package upgrade replaces the file. Either way it
// is executed in Prepare, before anything is frozen.
func NewHelperFreezer(exe string, logger *slog.Logger) Freezer {
	if exe == "" {
		exe = selfExe
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &helperFreezer{exe: exe, logger: logger}
}

type helperSession struct {
	mu      sync.Mutex
	opts    SessionOptions
	log     *slog.Logger
	logBuf  *logBuffer
	targets []Target // to freeze; index i is mount i of the protocol
	levels  []int    // levels[i] is the nesting level of targets[i]
	report  Report   // Mounts[i] for i < len(targets), then the skipped
	helper  *child
	guard   *child
	phase   int
	id      string // session ID, in the journal and the guard's configuration

	journalWritten bool
	thawConfirmed  bool
	closeOnce      sync.Once
	closeErr       error
}

// Prepare implements Freezer.
func (f *helperFreezer) Prepare(ctx context.Context, targets []Target, opts SessionOptions) (Session, error) {
	if opts.Logger == nil {
		opts.Logger = f.logger
	}
	if opts.Deadline > MaxDeadline {
		opts.Logger.Warn("freeze deadline capped", "asked", opts.Deadline, "cap", MaxDeadline)
	}
	opts = opts.withDefaults()
	id, err := newSessionID()
	if err != nil {
		return nil, err
	}
	s := &helperSession{opts: opts, id: id}
	s.log, s.logBuf = newBufferedLogger(opts.Logger)
	var skipped []Skipped
	s.targets, s.levels, skipped = classifyLevels(targets)
	for _, t := range s.targets {
		s.report.Mounts = append(s.report.Mounts, MountResult{Target: t})
	}
	for _, sk := range skipped {
		s.report.Mounts = append(s.report.Mounts, MountResult{Target: sk.Target, Status: StatusSkipped, Reason: sk.Reason})
	}
	if len(s.targets) == 0 {
		return s, nil
	}
	if err := s.start(ctx, f.exe); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// start launches helper and guard and waits until both hold every mount open.
func (s *helperSession) start(ctx context.Context, exe string) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("freeze guard pipe: %w", err)
	}
	// Our copies must go as soon as the children hold theirs: the guard
	// learns of the helper's death from the write end closing everywhere.
	defer pr.Close()
	defer pw.Close()
	if s.helper, err = startChild(exe, roleHelper, pw); err != nil {
		return err
	}
	if s.guard, err = startChild(exe, roleGuard, pr); err != nil {
		return err
	}
	pr.Close()
	pw.Close()

	mounts := make([]wireMount, len(s.targets))
	for i, t := range s.targets {
		mounts[i] = wireMount{Path: t.MountPoint, Dev: t.Dev, FSType: t.FSType, Level: s.levels[i]}
	}
	if err := s.helper.send(command{Op: opOpen, Version: protocolVersion, DeadlineMS: ms(s.opts.Deadline), Mounts: mounts}); err != nil {
		return err
	}
	if err := s.guard.send(command{Op: opGuard, Version: protocolVersion, Session: s.id,
		Journal: s.opts.JournalPath, GraceMS: ms(GuardGrace), Mounts: mounts}); err != nil {
		return err
	}
	if _, err := s.expect(ctx, s.helper, evHello); err != nil {
		return err
	}
	opened, err := s.expect(ctx, s.helper, evOpened)
	if err != nil {
		return err
	}
	if _, err := s.expect(ctx, s.guard, evReady); err != nil {
		return err
	}
	for _, r := range opened.Mounts {
		if r.I >= len(s.targets) {
			return fmt.Errorf("freeze helper: %w", protoErr("mount index %d out of range", r.I))
		}
		m := &s.report.Mounts[r.I]
		switch r.Status {
		case wsError:
			m.Status, m.Reason = StatusError, r.Error
		case wsSkipped:
			m.Status, m.Reason = StatusSkipped, r.Error
		}
	}
	s.log.Debug("freeze helper ready", "helper_pid", s.helper.id.PID, "guard_pid", s.guard.id.PID, "mounts", len(s.targets))
	return nil
}

// expect waits for event name from c during startup.
func (s *helperSession) expect(ctx context.Context, c *child, name string) (event, error) {
	e, ok, err := c.next(ctx, startLimit)
	switch {
	case err != nil:
		return event{}, err
	case !ok:
		return event{}, fmt.Errorf("during startup: %w", childGone(c))
	case e.Ev == evError:
		return event{}, fmt.Errorf("freeze %s refused: %s", c.role, e.Error)
	case e.Ev != name:
		return event{}, fmt.Errorf("freeze %s: %w", c.role, protoErr("got %q, want %q", e.Ev, name))
	}
	return e, nil
}

// newSessionID returns 16 random bytes in hex.
func newSessionID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("freeze session id: %w", err)
	}
	return hex.EncodeToString(b), nil
}
