package store

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// stepClock returns a clock that advances one second per call, so that
// every Save gets a distinct, ordered time without sleeping.
func stepClock(start time.Time) func() time.Time {
	var mu sync.Mutex
	t := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newLogger(h slog.Handler) *slog.Logger { return slog.New(h) }

func openTest(t *testing.T, dir string) (*Store, *testenv.LogSink) {
	t.Helper()
	sink := &testenv.LogSink{}
	s, err := Open(dir, Options{Logger: slog.New(sink), Now: stepClock(t0)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, sink
}

func ids(recs []*Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}
