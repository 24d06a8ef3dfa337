package store

import (
	"fmt"
	"testing"
)

// BenchmarkOpen opens a store holding a long history, 1000 finished jobs
// (the default bound) and one unfinished, and lists the last 32 finished
// ones, as every in-process job does before its first call.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(dir, Options{Now: stepClock(t0)})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1001 {
		rec := sampleRecord(fmt.Sprintf("j-20250301-120000-%04d", i))
		if i < 1000 {
			rec.State = StateDone
		}
		if err := s.Save(rec); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	b.ResetTimer()
	for range b.N {
		s, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if recs, err := s.List(ListOptions{Limit: 32}); err != nil || len(recs) != 32 {
			b.Fatalf("List: %d, %v", len(recs), err)
		}
		s.Close()
	}
}
