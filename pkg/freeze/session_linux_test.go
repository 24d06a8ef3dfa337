package freeze

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/loopfs"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// TestSessionNestedMultiFS freezes ext4 with another ext4 mounted inside
// it, xfs, and btrfs spanning two devices, and checks the order (child
// before parent, thaw in reverse), that each is really frozen (a write in
// a child process blocks until the thaw), the journal's life, and Held.
func TestSessionNestedMultiFS(t *testing.T) {
	scratch := t.TempDir()
	parent := newLoopFS(t, "ext4", scratch, loopfs.Options{MountPoint: filepath.Join(scratch, "parent")})
	child := newLoopFS(t, "ext4", scratch, loopfs.Options{MountPoint: filepath.Join(parent.MountPoint, "child")})
	xfs := newLoopFS(t, "xfs", scratch, loopfs.Options{})
	btrfs := newLoopFS(t, "btrfs", scratch, loopfs.Options{Devices: 2})
	all := []*loopfs.FS{parent, child, xfs, btrfs}

	journal := journalIn(t)
	// Parent listed first on purpose: the order must come from Classify.
	targets := []Target{targetOf(t, parent), targetOf(t, xfs), targetOf(t, child), targetOf(t, btrfs)}
	sess := mustPrepare(t, targets, SessionOptions{Deadline: 20 * time.Second, JobID: "nested", JournalPath: journal})
	if _, err := os.Stat(journal); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Prepare wrote the journal (%v); only Freeze may", err)
	}

	ctx := context.Background()
	rep, err := sess.Freeze(ctx)
	if err != nil {
		t.Fatalf("freeze: %v", err)
	}
	frozen := rep.Frozen()
	if len(frozen) != 4 {
		t.Fatalf("frozen %v, want all four; report %+v", frozen, rep.Mounts)
	}
	if slices.Index(frozen, child.MountPoint) > slices.Index(frozen, parent.MountPoint) {
		t.Errorf("parent frozen before its child: %v", frozen)
	}

	j, err := readJournal(journal)
	if err != nil {
		t.Fatalf("journal while frozen: %v", err)
	}
	if j.JobID != "nested" || j.Owner.PID != os.Getpid() || len(j.Mounts) != 4 || j.Helper.PID == 0 || j.Guard.PID == 0 {
		t.Errorf("journal %+v", j)
	}
	if left := time.Until(j.Deadline); left <= 0 || left > 20*time.Second {
		t.Errorf("journal deadline %v from now", left)
	}

	var probes []*writeProbe
	for _, fs := range all {
		probes = append(probes, startWriteProbe(t, fs.MountPoint))
	}
	probes[0].blocked(t, blockedWindow) // one window covers all: they started together
	for _, p := range probes[1:] {
		p.blocked(t, 0)
	}

	rep, err = sess.Thaw(ctx)
	if err != nil {
		t.Fatalf("thaw: %v", err)
	}
	for _, p := range probes {
		p.completes(t, settleLimit)
	}
	if rep.ThawReason != "request" || rep.Held < blockedWindow || rep.Held > time.Minute {
		t.Errorf("reason %q held %v", rep.ThawReason, rep.Held)
	}
	checkOps(t, rep, targets)
	for _, m := range rep.Mounts {
		if !m.Thawed || m.FreezeTook <= 0 || m.ThawTook <= 0 {
			t.Errorf("%s: %+v", m.Target.MountPoint, m)
		}
	}
	if !journalGone(journal)() {
		t.Errorf("journal left after a confirmed thaw")
	}
	if err := sess.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	for _, fs := range all {
		if isFrozen(t, fs) {
			t.Errorf("%s still frozen after Close", fs.MountPoint)
		}
	}
}

func TestSessionCloseThaws(t *testing.T) {
	scratch := t.TempDir()
	fs := newLoopFS(t, "ext4", scratch, loopfs.Options{})
	journal := journalIn(t)
	sess := mustPrepare(t, []Target{targetOf(t, fs)}, SessionOptions{Deadline: 20 * time.Second, JobID: "close", JournalPath: journal})
	if _, err := sess.Freeze(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := startWriteProbe(t, fs.MountPoint)
	p.blocked(t, blockedWindow)
	if err := sess.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	p.completes(t, settleLimit)
	if !journalGone(journal)() {
		t.Error("journal left after Close")
	}
	if err := sess.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if _, err := sess.Freeze(context.Background()); !errors.Is(err, ErrSessionState) {
		t.Errorf("freeze after close: %v", err)
	}
}

// TestHelperDeadline: nobody calls Thaw; the helper thaws by itself.
func TestHelperDeadline(t *testing.T) {
	scratch := t.TempDir()
	fs := newLoopFS(t, "ext4", scratch, loopfs.Options{})
	journal := journalIn(t)
	const deadline = time.Second
	sess := mustPrepare(t, []Target{targetOf(t, fs)}, SessionOptions{Deadline: deadline, JobID: "deadline", JournalPath: journal})
	if _, err := sess.Freeze(context.Background()); err != nil {
		t.Fatal(err)
	}
	frozenAt := time.Now()
	// An in-process write: it blocks at once, so its end marks the thaw.
	r, err := awaitProbe(startProbe(filepath.Join(fs.MountPoint, "probe")), settleLimit)
	if err != nil {
		t.Fatal(err)
	}
	if took := r.end.Sub(frozenAt); took > deadline+time.Second || took < deadline/2 {
		t.Errorf("thawed %v after the freeze, deadline %v", took, deadline)
	}
	rep, err := sess.Thaw(context.Background())
	if !errors.Is(err, ErrThawedEarly) || rep.ThawReason != "deadline" {
		t.Errorf("thaw after the deadline: %v, reason %q", err, rep.ThawReason)
	}
	if rep.Held < deadline || rep.Held > deadline+time.Second {
		t.Errorf("held %v, want about %v", rep.Held, deadline)
	}
	if err := sess.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if !journalGone(journal)() {
		t.Error("journal left")
	}
}

// TestHelperSignal: a catchable signal to the helper thaws at once.
func TestHelperSignal(t *testing.T) {
	scratch := t.TempDir()
	fs := newLoopFS(t, "ext4", scratch, loopfs.Options{})
	journal := journalIn(t)
	sess := mustPrepare(t, []Target{targetOf(t, fs)}, SessionOptions{Deadline: 30 * time.Second, JobID: "signal", JournalPath: journal})
	if _, err := sess.Freeze(context.Background()); err != nil {
		t.Fatal(err)
	}
	j, err := readJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	startWriteProbe(t, fs.MountPoint).blocked(t, blockedWindow)
	probe := startProbe(filepath.Join(fs.MountPoint, "probe"))
	signalled := time.Now()
	if !processAlive(procRoot, j.Helper) {
		t.Fatal("helper not running")
	}
	if err := syscall.Kill(j.Helper.PID, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	r, err := awaitProbe(probe, settleLimit)
	if err != nil {
		t.Fatal(err)
	}
	if took := r.end.Sub(signalled); took > time.Second {
		t.Errorf("thawed %v after SIGHUP", took)
	}
	rep, err := sess.Thaw(context.Background())
	if !errors.Is(err, ErrThawedEarly) || !strings.HasPrefix(rep.ThawReason, "signal:") {
		t.Errorf("thaw: %v, reason %q", err, rep.ThawReason)
	}
}

// TestNotSupportedSkipped: a filesystem without freeze support is reported
// NotSupported and left alone; a tmpfs is skipped by Classify. The kernel
// here may lack vfat; a tmpfs presented under a type Classify does not
// know then stands in, which exercises the same EOPNOTSUPP path through
// the real helper.
func TestNotSupportedSkipped(t *testing.T) {
	testenv.RequireRoot(t)
	scratch := t.TempDir()
	var target Target
	if loopfs.Available("vfat") == nil {
		target = targetOf(t, newLoopFS(t, "vfat", scratch, loopfs.Options{}))
	} else {
		t.Log("no vfat in this kernel; using a tmpfs presented as an unknown type")
		target = tmpfsTarget(t, scratch, "unknownfs")
	}
	tmp := tmpfsTarget(t, scratch, "tmpfs")
	ext := newLoopFS(t, "ext4", scratch, loopfs.Options{})
	sess := mustPrepare(t, []Target{target, tmp, targetOf(t, ext)}, SessionOptions{JobID: "unsupported", JournalPath: journalIn(t)})
	rep, err := sess.Freeze(context.Background())
	if err != nil {
		t.Fatalf("freeze: %v", err)
	}
	if m := statusOf(rep, target.MountPoint); m.Status != StatusNotSupported || !strings.Contains(m.Reason, "cannot be frozen") {
		t.Errorf("%s: %+v", target.FSType, m)
	}
	if m := statusOf(rep, tmp.MountPoint); m.Status != StatusSkipped || !strings.Contains(m.Reason, "virtual filesystem (tmpfs)") {
		t.Errorf("tmpfs: %+v", m)
	}
	if m := statusOf(rep, ext.MountPoint); m.Status != StatusFrozen {
		t.Errorf("ext4: %+v", m)
	}
	rep, err = sess.Thaw(context.Background())
	if err != nil {
		t.Fatalf("thaw: %v", err)
	}
	if got := rep.Frozen(); len(got) != 1 || got[0] != ext.MountPoint {
		t.Errorf("frozen %v", got)
	}
}

// TestExternallyFrozenLeftAlone: EBUSY is reported and the filesystem is
// left frozen, by the helper on thaw and by the guard when the helper dies.
func TestExternallyFrozenLeftAlone(t *testing.T) {
	for _, killHelper := range []bool{false, true} {
		name := map[bool]string{false: "thaw", true: "helper killed"}[killHelper]
		t.Run(name, func(t *testing.T) {
			scratch := t.TempDir()
			ours := newLoopFS(t, "ext4", scratch, loopfs.Options{MountPoint: filepath.Join(scratch, "ours")})
			theirs := newLoopFS(t, "ext4", scratch, loopfs.Options{MountPoint: filepath.Join(scratch, "theirs")})
			rawFreeze(t, theirs)
			journal := journalIn(t)
			sess := mustPrepare(t, []Target{targetOf(t, ours), targetOf(t, theirs)}, SessionOptions{Deadline: 20 * time.Second, JobID: "ebusy", JournalPath: journal})
			rep, err := sess.Freeze(context.Background())
			if err != nil {
				t.Fatalf("freeze: %v", err)
			}
			if m := statusOf(rep, theirs.MountPoint); m.Status != StatusAlreadyFrozenByOther {
				t.Errorf("theirs: %+v", m)
			}
			if m := statusOf(rep, ours.MountPoint); m.Status != StatusFrozen {
				t.Errorf("ours: %+v", m)
			}
			p := startWriteProbe(t, ours.MountPoint)
			if killHelper {
				j, err := readJournal(journal)
				if err != nil {
					t.Fatal(err)
				}
				if err := syscall.Kill(j.Helper.PID, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				p.completes(t, settleLimit) // the guard thawed ours
				eventually(t, settleLimit, "guard removes the journal", journalGone(journal))
			} else if _, err := sess.Thaw(context.Background()); err != nil {
				t.Fatalf("thaw: %v", err)
			}
			_ = sess.Close()
			p.completes(t, settleLimit)
			if !isFrozen(t, theirs) {
				t.Errorf("someone else's freeze was undone")
			}
			if isFrozen(t, ours) {
				t.Errorf("ours still frozen")
			}
		})
	}
}

// TestBindMountFrozenOnce: two mounts of one superblock, frozen once.
func TestBindMountFrozenOnce(t *testing.T) {
	scratch := t.TempDir()
	fs := newLoopFS(t, "ext4", scratch, loopfs.Options{})
	bind := filepath.Join(scratch, "bind")
	if err := os.Mkdir(bind, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(fs.MountPoint, bind, "", syscall.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(bind, 0) })
	orig := targetOf(t, fs)
	alias := orig
	alias.MountPoint = bind
	sess := mustPrepare(t, []Target{alias, orig}, SessionOptions{JobID: "bind", JournalPath: journalIn(t)})
	rep, err := sess.Freeze(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Thaw(context.Background())
	if got := rep.Frozen(); len(got) != 1 {
		t.Errorf("frozen %v, want exactly one", got)
	}
	if m := statusOf(rep, bind); m.Status != StatusSkipped && statusOf(rep, fs.MountPoint).Status != StatusSkipped {
		t.Errorf("neither mount skipped: %+v", rep.Mounts)
	}
}

// TestFreezeRefusesChangedMount: a target whose path now shows another
// filesystem is an error, never frozen.
func TestFreezeRefusesChangedMount(t *testing.T) {
	scratch := t.TempDir()
	fs := newLoopFS(t, "ext4", scratch, loopfs.Options{})
	other := newLoopFS(t, "ext4", scratch, loopfs.Options{MountPoint: filepath.Join(scratch, "other")})
	tgt := targetOf(t, fs)
	tgt.Dev = other.Dev // as if fs had been replaced by other since the inventory
	sess := mustPrepare(t, []Target{tgt}, SessionOptions{JobID: "changed", JournalPath: journalIn(t)})
	rep, err := sess.Freeze(context.Background())
	if m := statusOf(rep, fs.MountPoint); m.Status != StatusError || !strings.Contains(m.Reason, "expected "+other.Dev) {
		t.Errorf("changed mount: %+v (err %v)", m, err)
	}
	if isFrozen(t, fs) || isFrozen(t, other) {
		t.Error("something was frozen")
	}
}

func tmpfsTarget(t *testing.T, scratch, fstype string) Target {
	t.Helper()
	dir := filepath.Join(scratch, "tmpfs-"+fstype)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("ecssnap-test", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, 0) })
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	return Target{MountPoint: dir, FSType: fstype, Dev: devString(st.Dev), Source: "ecssnap-test"}
}

// TestFreezeRefusesOverJournal: a journal left by another freeze (live or
// awaiting Recover) means nothing new is frozen.
func TestFreezeRefusesOverJournal(t *testing.T) {
	scratch := t.TempDir()
	fs := newLoopFS(t, "ext4", scratch, loopfs.Options{})
	journal := journalIn(t)
	if err := createJournal(journal, journalFor(selfID(t), time.Now().Add(time.Minute), targetOf(t, fs))); err != nil {
		t.Fatal(err)
	}
	sess := mustPrepare(t, []Target{targetOf(t, fs)}, SessionOptions{JobID: "second", JournalPath: journal})
	_, err := sess.Freeze(context.Background())
	if !errors.Is(err, ErrFreezeInProgress) || !strings.Contains(err.Error(), `job "crashed"`) {
		t.Fatalf("freeze over a journal: %v", err)
	}
	if isFrozen(t, fs) {
		t.Error("frozen anyway")
	}
	if err := sess.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if j, err := readJournal(journal); err != nil || j.JobID != "crashed" {
		t.Errorf("the other journal was touched: %+v %v", j, err)
	}
}
