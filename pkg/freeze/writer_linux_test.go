package freeze

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/loopfs"
)

// writeRecord is one append by the writer role: wall-clock times taken
// right before and right after the write.
type writeRecord struct {
	seq        int
	start, end time.Time
}

type writer struct {
	stdin io.WriteCloser
	done  chan error
	mu    sync.Mutex
	recs  []writeRecord
}

func startWriter(t *testing.T, file string) *writer {
	t.Helper()
	cmd := testChild("writer", "ECSSNAP_TEST_FILE="+file)
	w := &writer{done: make(chan error, 1)}
	var err error
	if w.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var seq int
			var s, e int64
			if _, err := fmt.Sscanf(sc.Text(), "%d %d %d", &seq, &s, &e); err != nil {
				continue
			}
			w.mu.Lock()
			w.recs = append(w.recs, writeRecord{seq: seq, start: time.Unix(0, s), end: time.Unix(0, e)})
			w.mu.Unlock()
		}
		w.done <- cmd.Wait()
	}()
	return w
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.recs)
}

// waitFor waits (bounded) until at least n records have been reported.
func (w *writer) waitFor(t *testing.T, n int) {
	t.Helper()
	eventually(t, settleLimit, fmt.Sprintf("writer reaches %d records", n), func() bool { return w.count() >= n })
}

// stop closes the writer's stdin and returns every record once it exits.
func (w *writer) stop(t *testing.T) []writeRecord {
	t.Helper()
	w.stdin.Close()
	timer := time.NewTimer(settleLimit)
	defer timer.Stop()
	select {
	case err := <-w.done:
		if err != nil {
			t.Fatalf("writer: %v", err)
		}
	case <-timer.C:
		t.Fatal("writer did not stop")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.recs
}

// TestWriterStallsOnlyInWindow runs a process appending records while a
// session freezes and thaws its filesystem: no write may complete inside
// the frozen window, writes stall only across it, and after the thaw and
// a sync every record is in the file, in order.
func TestWriterStallsOnlyInWindow(t *testing.T) {
	for _, fstype := range []string{"ext4", "xfs"} {
		t.Run(fstype, func(t *testing.T) {
			scratch := t.TempDir()
			fs := newLoopFS(t, fstype, scratch, loopfs.Options{})
			file := filepath.Join(fs.MountPoint, "records")
			sess := mustPrepare(t, []Target{targetOf(t, fs)}, SessionOptions{Deadline: 20 * time.Second, JobID: "writer", JournalPath: journalIn(t)})
			w := startWriter(t, file)
			w.waitFor(t, 50)

			ctx := context.Background()
			freezeStart := time.Now()
			if _, err := sess.Freeze(ctx); err != nil {
				t.Fatal(err)
			}
			frozenAt := time.Now()
			hold := time.NewTimer(500 * time.Millisecond)
			<-hold.C
			thawStart := time.Now()
			rep, err := sess.Thaw(ctx)
			if err != nil {
				t.Fatal(err)
			}
			thawEnd := time.Now()
			w.waitFor(t, w.count()+50)
			recs := w.stop(t)

			spanned := false
			for _, r := range recs {
				if r.start.After(frozenAt) && r.end.Before(thawStart) {
					t.Errorf("record %d was written inside the frozen window (%v..%v)", r.seq, r.start, r.end)
				}
				if !r.start.After(thawStart) && r.end.After(thawStart) {
					spanned = true
					if r.end.Sub(thawEnd) > time.Second {
						t.Errorf("record %d completed %v after the thaw", r.seq, r.end.Sub(thawEnd))
					}
				}
				stalled := r.end.Sub(r.start) > 250*time.Millisecond
				overlaps := r.end.After(freezeStart) && r.start.Before(thawEnd)
				if stalled && !overlaps {
					t.Errorf("record %d stalled %v outside the frozen window", r.seq, r.end.Sub(r.start))
				}
			}
			if !spanned {
				t.Error("no write was held across the thaw: was the filesystem frozen?")
			}
			if rep.Held < 500*time.Millisecond {
				t.Errorf("held %v, less than the hold", rep.Held)
			}

			syscall.Sync()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			if len(lines) != len(recs) {
				t.Fatalf("file holds %d records, the writer reported %d", len(lines), len(recs))
			}
			for i, l := range lines {
				if l != fmt.Sprintf("%08d", i) {
					t.Fatalf("record %d is %q", i, l)
				}
			}
		})
	}
}
