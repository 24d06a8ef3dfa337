package freeze

import (
	"bufio"
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/loopfs"
)

// killDeadline is the short freeze deadline of the kill tests.
const killDeadline = time.Second

// killDelay spreads the kills over the first half of the frozen window.
func killDelay(trial int) time.Duration {
	return time.Duration(trial%4) * killDeadline / 8
}

// checkRecovered waits for the in-process write probe, which returns at the
// thaw, and checks it came within the deadline plus one second of the
// journal's creation (taken just before the first FIFREEZE), then that the
// journal is gone and the helper and guard have exited.
func checkRecovered(t *testing.T, probe <-chan probeResult, j Journal, journal string) {
	t.Helper()
	r, err := awaitProbe(probe, killDeadline+settleLimit)
	if err != nil {
		t.Fatalf("not thawed: %v", err)
	}
	took := r.end.Sub(j.Created)
	t.Logf("%s: thawed %v after the freeze began", j.JobID, took)
	if took > killDeadline+time.Second {
		t.Errorf("thawed %v after the freeze began, deadline %v", took, killDeadline)
	}
	eventually(t, settleLimit, "journal removed", journalGone(journal))
	eventually(t, settleLimit, "helper and guard exited", func() bool {
		return !processAlive(procRoot, j.Helper) && !processAlive(procRoot, j.Guard)
	})
}

// TestKillAgentWhileFrozen SIGKILLs the process that owns the session (this
// test binary in the agent role) while frozen: the helper's death signal
// and its stdin's EOF must thaw at once.
func TestKillAgentWhileFrozen(t *testing.T) {
	scratch := t.TempDir()
	fs := newLoopFS(t, "ext4", scratch, loopfs.Options{})
	target := targetOf(t, fs)
	for trial := range trials(t) {
		journal := journalIn(t)
		// The agent waits on stdin; it is killed long before it would close.
		cmd, stdout, stop := startAgent(t, target, journal, killDeadline, fmt.Sprintf("agent-%d", trial))
		t.Cleanup(stop)
		said := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			sc.Scan()
			said <- sc.Text()
		}()
		select {
		case s := <-said:
			if s != "frozen" {
				cmd.Process.Kill()
				t.Fatalf("trial %d: agent said %q", trial, s)
			}
		case <-time.After(settleLimit):
			cmd.Process.Kill()
			t.Fatalf("trial %d: agent did not freeze", trial)
		}
		j, err := readJournal(journal)
		if err != nil {
			t.Fatal(err)
		}
		probe := startProbe(filepath.Join(fs.MountPoint, fmt.Sprintf("probe-%d", trial)))
		<-time.After(killDelay(trial))
		select {
		case r := <-probe:
			t.Fatalf("trial %d: a write completed before the kill: %+v", trial, r)
		default:
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		checkRecovered(t, probe, j, journal)
	}
}

// TestKillHelperWhileFrozen SIGKILLs the helper while frozen: the guard
// sees the helper's pipe close and thaws at once.
func TestKillHelperWhileFrozen(t *testing.T) {
	scratch := t.TempDir()
	fs := newLoopFS(t, "ext4", scratch, loopfs.Options{})
	target := targetOf(t, fs)
	for trial := range trials(t) {
		journal := journalIn(t)
		sess := mustPrepare(t, []Target{target}, SessionOptions{Deadline: killDeadline, JobID: fmt.Sprintf("helper-%d", trial), JournalPath: journal})
		if _, err := sess.Freeze(context.Background()); err != nil {
			t.Fatal(err)
		}
		j, err := readJournal(journal)
		if err != nil {
			t.Fatal(err)
		}
		probe := startProbe(filepath.Join(fs.MountPoint, fmt.Sprintf("probe-%d", trial)))
		<-time.After(killDelay(trial))
		if !processAlive(procRoot, j.Helper) {
			t.Fatalf("trial %d: helper not running", trial)
		}
		if err := syscall.Kill(j.Helper.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		checkRecovered(t, probe, j, journal)
		if _, err := sess.Thaw(context.Background()); err == nil {
			t.Errorf("trial %d: Thaw after the helper died reported success", trial)
		}
		if err := sess.Close(); err != nil {
			t.Errorf("trial %d: close: %v (the guard had thawed)", trial, err)
		}
	}
}

// TestStoppedHelperGuardDeadline SIGSTOPs the helper, so that neither its
// timer nor its death can help: the guard's own timer thaws at the deadline
// plus its grace.
func TestStoppedHelperGuardDeadline(t *testing.T) {
	scratch := t.TempDir()
	fs := newLoopFS(t, "ext4", scratch, loopfs.Options{})
	journal := journalIn(t)
	sess := mustPrepare(t, []Target{targetOf(t, fs)}, SessionOptions{Deadline: killDeadline, JobID: "stopped", JournalPath: journal})
	if _, err := sess.Freeze(context.Background()); err != nil {
		t.Fatal(err)
	}
	j, err := readJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(j.Helper.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(j.Helper.PID, syscall.SIGKILL) })
	probe := startProbe(filepath.Join(fs.MountPoint, "probe"))
	r, err := awaitProbe(probe, killDeadline+settleLimit)
	if err != nil {
		t.Fatalf("not thawed: %v", err)
	}
	took := r.end.Sub(j.Created)
	if took < killDeadline || took > killDeadline+time.Second {
		t.Errorf("the guard thawed %v after the freeze began; want deadline %v + grace %v", took, killDeadline, GuardGrace)
	}
	// Let the stopped helper die so the guard can finish.
	_ = syscall.Kill(j.Helper.PID, syscall.SIGKILL)
	if err := sess.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	eventually(t, settleLimit, "journal removed", journalGone(journal))
}
