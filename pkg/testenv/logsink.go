package testenv

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
)

// LogSink is a slog.Handler that keeps every record as one line
// ("LEVEL message key=value ..."), so that a test can assert that something
// was reported, not merely that nothing failed.
type LogSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *LogSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *LogSink) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *LogSink) WithGroup(string) slog.Handler            { return l }

func (l *LogSink) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, b.String())
	return nil
}

// Find returns the lines that contain every fragment.
func (l *LogSink) Find(fragments ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.lines {
		if !slices.ContainsFunc(fragments, func(f string) bool { return !strings.Contains(s, f) }) {
			out = append(out, s)
		}
	}
	return out
}

// String returns every line kept so far, one per line.
func (l *LogSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
