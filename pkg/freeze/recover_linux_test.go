package freeze

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/loopfs"
)

// deadProcess returns the identity of a process that has exited.
func deadProcess(t *testing.T) ProcessID {
	t.Helper()
	cmd := testChild("wait")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	id, err := processID(procRoot, cmd.Process.Pid)
	stdin.Close()
	_ = cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func selfID(t *testing.T) ProcessID {
	t.Helper()
	id, err := processID(procRoot, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func journalFor(owner ProcessID, deadline time.Time, mounts ...Target) Journal {
	j := Journal{Version: journalVersion, JobID: "crashed", Session: "deadbeefcafe0001", Owner: owner, Helper: owner, Guard: owner,
		Created: deadline.Add(-10 * time.Second), Deadline: deadline}
	for _, m := range mounts {
		j.Mounts = append(j.Mounts, JournalMount{MountPoint: m.MountPoint, Dev: m.Dev, FSType: m.FSType})
	}
	return j
}

// TestRecoverRoot freezes loop filesystems with the raw ioctl, as a crashed
// owner would have left them, and runs Recover against journals in the
// various states.
func TestRecoverRoot(t *testing.T) {
	scratch := t.TempDir()
	fs := newLoopFS(t, "ext4", scratch, loopfs.Options{})
	other := newLoopFS(t, "ext4", scratch, loopfs.Options{MountPoint: filepath.Join(scratch, "other")})
	target := targetOf(t, fs)
	ctx := context.Background()
	dead, self := deadProcess(t), selfID(t)
	future, past := time.Now().Add(time.Hour), time.Now().Add(-time.Second)

	t.Run("dead owner: thawed and journal removed", func(t *testing.T) {
		rawFreeze(t, fs)
		journal := journalIn(t)
		if err := createJournal(journal, journalFor(dead, future, target)); err != nil {
			t.Fatal(err)
		}
		rep, err := Recover(ctx, journal, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Action != RecoverThawed || len(rep.Mounts) != 1 || rep.Mounts[0].Result != RecoveredThawed || rep.JobID != "crashed" {
			t.Errorf("report %+v", rep)
		}
		if isFrozen(t, fs) {
			t.Error("still frozen")
		}
		if !journalGone(journal)() {
			t.Error("journal kept")
		}
		rep, err = Recover(ctx, journal, nil)
		if err != nil || rep.Found || rep.Action != RecoverNone {
			t.Errorf("second Recover: %+v %v", rep, err)
		}
	})

	t.Run("live owner within its deadline: left alone", func(t *testing.T) {
		rawFreeze(t, fs)
		journal := journalIn(t)
		if err := createJournal(journal, journalFor(self, future, target)); err != nil {
			t.Fatal(err)
		}
		rep, err := Recover(ctx, journal, nil)
		if err != nil || rep.Action != RecoverLeftActive {
			t.Errorf("report %+v %v", rep, err)
		}
		if !isFrozen(t, fs) {
			t.Error("a live job's freeze was undone")
		}
		if journalGone(journal)() {
			t.Error("a live job's journal was removed")
		}
	})

	t.Run("live owner past its deadline: thawed", func(t *testing.T) {
		rawFreeze(t, fs)
		journal := journalIn(t)
		if err := createJournal(journal, journalFor(self, past, target)); err != nil {
			t.Fatal(err)
		}
		rep, err := Recover(ctx, journal, nil)
		if err != nil || rep.Action != RecoverThawed || rep.Mounts[0].Result != RecoveredThawed {
			t.Errorf("report %+v %v", rep, err)
		}
		if isFrozen(t, fs) {
			t.Error("still frozen")
		}
	})

	t.Run("already thawed, and a mount that changed", func(t *testing.T) {
		rawFreeze(t, other)
		changed := target
		changed.MountPoint = other.MountPoint // path now shows another device
		journal := journalIn(t)
		if err := createJournal(journal, journalFor(dead, future, target, changed)); err != nil {
			t.Fatal(err)
		}
		rep, err := Recover(ctx, journal, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Mounts[0].Result != RecoveredNotFrozen || rep.Mounts[1].Result != RecoveredChanged {
			t.Errorf("report %+v", rep.Mounts)
		}
		if !isFrozen(t, other) {
			t.Error("a filesystem not in the journal was thawed")
		}
	})
}

// TestRecoverDecisions covers the decisions without root: a fake /proc,
// an injected clock, and mount points that do not exist.
func TestRecoverDecisions(t *testing.T) {
	proc := t.TempDir()
	writeStat := func(pid, start int) {
		dir := filepath.Join(proc, strconv.Itoa(pid))
		_ = os.MkdirAll(dir, 0o755)
		line := strconv.Itoa(pid) + " (ecssnap) S" + strings.Repeat(" 0", 18) + " " + strconv.Itoa(start) + " 0\n"
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeStat(500, 42)
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	rc := recoverer{procRoot: proc, now: func() time.Time { return now }, log: slog.New(slog.DiscardHandler)}
	missing := Target{MountPoint: filepath.Join(t.TempDir(), "gone"), FSType: "ext4", Dev: "7:99"}
	alive, reused := ProcessID{PID: 500, StartTime: 42}, ProcessID{PID: 500, StartTime: 41}

	for _, tc := range []struct {
		name   string
		j      Journal
		action string
	}{
		{"owner alive, before deadline", journalFor(alive, now.Add(time.Second), missing), RecoverLeftActive},
		{"owner alive, after deadline", journalFor(alive, now.Add(-time.Second), missing), RecoverThawed},
		{"pid reused", journalFor(reused, now.Add(time.Second), missing), RecoverThawed},
		{"helper alive, owner dead", func() Journal {
			j := journalFor(reused, now.Add(time.Second), missing)
			j.Helper = alive
			return j
		}(), RecoverLeftActive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "freeze.json")
			if err := createJournal(path, tc.j); err != nil {
				t.Fatal(err)
			}
			rep, err := rc.run(context.Background(), path)
			if err != nil || rep.Action != tc.action {
				t.Fatalf("action %q err %v, want %q", rep.Action, err, tc.action)
			}
			if tc.action == RecoverThawed {
				if rep.Mounts[0].Result != RecoveredChanged {
					t.Errorf("missing mount point: %+v", rep.Mounts[0])
				}
				if !journalGone(path)() {
					t.Error("journal kept")
				}
			}
		})
	}

	t.Run("unparseable journal is kept", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "freeze.json")
		if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := rc.run(context.Background(), path); err == nil {
			t.Error("no error")
		}
		if journalGone(path)() {
			t.Error("removed a journal it could not read")
		}
	})
}
