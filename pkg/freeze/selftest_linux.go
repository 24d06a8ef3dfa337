package freeze

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ecssnap/ecssnap/pkg/loopfs"
)

const (
	// probeWindow is how long a write must stay blocked to count as
	// blocked by the freeze.
	probeWindow = 300 * time.Millisecond
	// probeLimit bounds the wait for a write that should complete.
	probeLimit = 5 * time.Second
	// selfTestDeadline is the recovery check's default freeze deadline.
	selfTestDeadline = 2 * time.Second
)

// SelfTest creates a throwaway loop filesystem of each type, freezes and
// thaws it through the same helper the engine uses, checks that a write
// blocks while frozen and completes afterwards, then freezes again, kills
// the helper with SIGKILL and checks that the guard thaws within the
// deadline plus one second. It needs root. An error is returned only when
// the test could not run at all; per-type failures are in the report.
func SelfTest(ctx context.Context, opts SelfTestOptions) (SelfTestReport, error) {
	if os.Geteuid() != 0 {
		return SelfTestReport{}, ErrNotRoot
	}
	if opts.Types == nil {
		opts.Types = []string{"ext4", "xfs", "btrfs"}
	}
	if opts.Deadline <= 0 {
		opts.Deadline = selfTestDeadline
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	scratch, err := os.MkdirTemp(opts.Dir, "ecssnap-selftest-")
	if err != nil {
		return SelfTestReport{}, fmt.Errorf("freeze selftest: %w", err)
	}
	// Not RemoveAll: if an unmount failed, it would descend into a mount.
	defer os.Remove(scratch)
	var rep SelfTestReport
	for _, typ := range opts.Types {
		r := selfTestOne(ctx, typ, scratch, opts)
		opts.Logger.Info("freeze selftest", "fstype", typ, "status", r.Status, "detail", r.Detail)
		rep.Results = append(rep.Results, r)
	}
	return rep, nil
}

func selfTestOne(ctx context.Context, typ, scratch string, opts SelfTestOptions) (res SelfTestResult) {
	res.FSType = typ
	if err := loopfs.Available(typ); err != nil {
		res.Status, res.Detail = SelfTestUnavailable, err.Error()
		return res
	}
	fail := func(err error) SelfTestResult {
		res.Status, res.Detail = SelfTestError, err.Error()
		return res
	}
	journal := filepath.Join(scratch, "freeze-"+typ+".json")
	start := time.Now()
	fs, err := loopfs.Create(ctx, typ, scratch, loopfs.Options{})
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err := fs.Destroy(); err != nil {
			opts.Logger.Warn("freeze selftest cleanup", "fstype", typ, "error", err)
		}
		_ = os.Remove(fs.MountPoint)
		_ = os.Remove(journal)
	}()
	res.Setup = time.Since(start)
	target := Target{MountPoint: fs.MountPoint, FSType: typ, Dev: fs.Dev, Source: fs.Devices[0]}
	freezer := NewHelperFreezer(opts.Exe, opts.Logger)

	status, err := selfTestFreeze(ctx, freezer, fs, target, journal, &res)
	if err != nil {
		return fail(err)
	}
	if status == StatusNotSupported {
		res.Status, res.Detail = SelfTestNotSupported, "the kernel cannot freeze "+typ
		return res
	}
	if err := selfTestRecovery(ctx, freezer, fs, target, journal, opts.Deadline, &res); err != nil {
		return fail(err)
	}
	res.Status = SelfTestSupported
	return res
}

// selfTestFreeze freezes, checks that a write blocks, thaws and checks that
// the write completes.
func selfTestFreeze(ctx context.Context, f Freezer, fs *loopfs.FS, t Target, journal string, res *SelfTestResult) (Status, error) {
	if err := fs.CheckOwned(); err != nil {
		return "", err
	}
	sess, err := f.Prepare(ctx, []Target{t}, SessionOptions{JobID: "selftest-" + t.FSType, JournalPath: journal})
	if err != nil {
		return "", err
	}
	defer sess.Close()
	rep, err := sess.Freeze(ctx)
	if err != nil {
		return "", err
	}
	if st := rep.Mounts[0].Status; st != StatusFrozen {
		if st == StatusNotSupported {
			return st, nil
		}
		return "", fmt.Errorf("freeze %s: %s %s", t.MountPoint, st, rep.Mounts[0].Reason)
	}
	probe := startProbe(filepath.Join(t.MountPoint, "probe"))
	window := time.NewTimer(probeWindow)
	defer window.Stop()
	select {
	case <-probe:
		_, _ = sess.Thaw(ctx)
		return "", errors.New("a write completed while the filesystem was frozen")
	case <-window.C:
	}
	rep, err = sess.Thaw(ctx)
	if err != nil {
		return "", err
	}
	res.Held = rep.Held
	r, err := awaitProbe(probe, probeLimit)
	if err != nil {
		return "", fmt.Errorf("after thaw: %w", err)
	}
	res.WriteBlocked = r.end.Sub(r.start)
	return StatusFrozen, sess.Close()
}

// selfTestRecovery freezes, SIGKILLs the helper and times the thaw.
func selfTestRecovery(ctx context.Context, f Freezer, fs *loopfs.FS, t Target, journal string, deadline time.Duration, res *SelfTestResult) error {
	if err := fs.CheckOwned(); err != nil {
		return err
	}
	sess, err := f.Prepare(ctx, []Target{t}, SessionOptions{Deadline: deadline, JobID: "selftest-recovery-" + t.FSType, JournalPath: journal})
	if err != nil {
		return err
	}
	defer sess.Close()
	if _, err := sess.Freeze(ctx); err != nil {
		_, _ = sess.Thaw(ctx)
		return err
	}
	j, err := readJournal(journal)
	if err != nil {
		return err
	}
	// Kill only the process the journal names, and only if it is still the
	// one with the recorded start time.
	if !processAlive(procRoot, j.Helper) {
		return errors.New("freeze helper is not running while frozen")
	}
	killed := time.Now()
	if err := syscall.Kill(j.Helper.PID, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill freeze helper: %w", err)
	}
	r, err := awaitProbe(startProbe(filepath.Join(t.MountPoint, "probe")), deadline+probeLimit)
	if err != nil {
		return fmt.Errorf("after killing the helper: %w", err)
	}
	res.RecoveryTook = r.end.Sub(killed)
	res.Recovered = "guard"
	_ = sess.Close() // reports the helper's death, which we caused
	if res.RecoveryTook > deadline+time.Second {
		return fmt.Errorf("thawed %v after the helper was killed, more than the deadline %v + 1s", res.RecoveryTook, deadline)
	}
	rr, err := Recover(ctx, journal, nil)
	if err != nil {
		return err
	}
	if rr.Found {
		return fmt.Errorf("journal left behind after recovery (%s)", rr.Action)
	}
	return nil
}

type probeResult struct {
	start, end time.Time
	err        error
}

// startProbe writes a small file on another goroutine; on a frozen
// filesystem the write blocks in the kernel until the thaw.
func startProbe(path string) <-chan probeResult {
	ch := make(chan probeResult, 1)
	go func() {
		start := time.Now()
		err := os.WriteFile(path, []byte("ecssnap freeze probe\n"), 0o600)
		ch <- probeResult{start: start, end: time.Now(), err: err}
	}()
	return ch
}

func awaitProbe(ch <-chan probeResult, limit time.Duration) (probeResult, error) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case r := <-ch:
		return r, r.err
	case <-t.C:
		return probeResult{}, fmt.Errorf("a write was still blocked after %v", limit)
	}
}
