package consistency

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The writer's files hold exactly its acknowledged records, and expected
// leaves out what was deleted before the capture ended.
func TestWriterRecordsAndExpected(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(dir, "w0", 1000, 3, 2, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.run(ctx) }()
	for {
		w.mu.Lock()
		n := len(w.acks)
		w.mu.Unlock()
		if n >= 20 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	found := map[uint64]bool{}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("%d files left, want keep=2", len(entries))
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		r := scanRecords(b)
		if r.Torn != 0 {
			t.Errorf("%s: %d torn records", e.Name(), r.Torn)
		}
		for _, s := range r.Intact {
			found[s] = true
		}
	}
	now := time.Now()
	exp := w.expected(now, now)
	if len(exp) == 0 {
		t.Fatal("nothing expected")
	}
	for _, s := range exp {
		if !found[s] {
			t.Errorf("record %d expected but not in the files", s)
		}
	}
	if all := w.expected(now, time.Time{}); len(all) <= len(exp) {
		t.Errorf("records of deleted files: expected with an early t1 %d, with now %d", len(all), len(exp))
	}
}
