package store

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
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

// logSink keeps log records so that tests can assert that something was
// reported, not just skipped.
type logSink struct {
	mu   sync.Mutex
	recs []string
}

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSink) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logSink) WithGroup(string) slog.Handler            { return l }
func (l *logSink) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, b.String())
	return nil
}

// find returns the logged lines containing every fragment.
func (l *logSink) find(fragments ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(l.recs), func(s string) bool {
		for _, f := range fragments {
			if !strings.Contains(s, f) {
				return true
			}
		}
		return false
	})
}

func newLogger(h slog.Handler) *slog.Logger { return slog.New(h) }

func openTest(t *testing.T, dir string) (*Store, *logSink) {
	t.Helper()
	sink := &logSink{}
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
