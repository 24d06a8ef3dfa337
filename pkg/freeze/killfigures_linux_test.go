package freeze

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/loopfs"
)

// TestKillFigures measures, for ext4, xfs and btrfs, how long after a
// SIGKILL of the agent, of the freeze helper or of both the frozen
// filesystem is writable again: a write blocked on the frozen filesystem
// returns at the thaw. It is a measurement for the fault-trial figures,
// run on demand: ECSSNAP_KILL_FIGURES=N runs N kills per filesystem and
// target. It fails if any filesystem is not thawed within the deadline.
func TestKillFigures(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ECSSNAP_KILL_FIGURES"))
	if n <= 0 {
		t.Skip("a measurement: set ECSSNAP_KILL_FIGURES=N to run N kills per filesystem and target")
	}
	const deadline = 10 * time.Second // the default: the kills, not the deadline, must end the freeze
	for _, fstype := range []string{"ext4", "xfs", "btrfs"} {
		t.Run(fstype, func(t *testing.T) {
			fs := newLoopFS(t, fstype, t.TempDir(), loopfs.Options{})
			target := targetOf(t, fs)
			for _, victim := range []string{"agent", "helper", "both"} {
				var took []time.Duration
				for trial := range n {
					took = append(took, killOnce(t, target, fs.MountPoint, victim, trial, deadline))
				}
				slices.Sort(took)
				t.Logf("FIGURE %s kill %s: %d kills, thawed after min %v, median %v, max %v",
					fstype, victim, n, took[0].Round(10*time.Microsecond), took[len(took)/2].Round(10*time.Microsecond), took[len(took)-1].Round(10*time.Microsecond))
			}
		})
	}
}

// killOnce freezes target in an agent child, blocks a write on it, kills
// the victim and returns the time from the kill to the write's return.
func killOnce(t *testing.T, target Target, mount, victim string, trial int, deadline time.Duration) time.Duration {
	t.Helper()
	journal := journalIn(t)
	cmd, stdout, stop := startAgent(t, target, journal, deadline, fmt.Sprintf("figures-%s-%d", victim, trial))
	defer stop()
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "frozen" {
		t.Fatalf("agent did not freeze: %q", sc.Text())
	}
	j, err := readJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	probe := startProbe(filepath.Join(mount, fmt.Sprintf("probe-%s-%d", victim, trial)))
	time.Sleep(20 * time.Millisecond) // the write is blocked by now
	select {
	case r := <-probe:
		t.Fatalf("a write completed while frozen: %+v", r)
	default:
	}
	killed := time.Now()
	if victim == "helper" || victim == "both" {
		if err := syscall.Kill(j.Helper.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	if victim == "agent" || victim == "both" {
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	r, err := awaitProbe(probe, deadline+settleLimit)
	if err != nil {
		t.Fatalf("%s killed: not thawed: %v", victim, err)
	}
	eventually(t, settleLimit, "journal removed", journalGone(journal))
	return r.end.Sub(killed)
}
