package freeze

import (
	"context"
	"log/slog"
	"sync"
)

// maxBufferedRecords caps the records held while frozen; a session logs a
// handful, the cap only guards against a runaway.
const maxBufferedRecords = 1000

// logBuffer holds log records while filesystems are frozen, because the
// logger's destination (a file, journald's storage) may be on one of them,
// and hands them to their handlers after the thaw.
type logBuffer struct {
	mu        sync.Mutex
	buffering bool
	held      []heldRecord
	dropped   int
}

type heldRecord struct {
	h slog.Handler
	r slog.Record
}

// bufferedHandler passes records through to next, or holds them in buf.
type bufferedHandler struct {
	next slog.Handler
	buf  *logBuffer
}

func newBufferedLogger(l *slog.Logger) (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(&bufferedHandler{next: l.Handler(), buf: buf}), buf
}

func (h *bufferedHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *bufferedHandler) Handle(ctx context.Context, r slog.Record) error {
	h.buf.mu.Lock()
	if h.buf.buffering {
		if len(h.buf.held) < maxBufferedRecords {
			h.buf.held = append(h.buf.held, heldRecord{h: h.next, r: r.Clone()})
		} else {
			h.buf.dropped++
		}
		h.buf.mu.Unlock()
		return nil
	}
	h.buf.mu.Unlock()
	return h.next.Handle(ctx, r)
}

func (h *bufferedHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &bufferedHandler{next: h.next.WithAttrs(attrs), buf: h.buf}
}

func (h *bufferedHandler) WithGroup(name string) slog.Handler {
	return &bufferedHandler{next: h.next.WithGroup(name), buf: h.buf}
}

// hold starts buffering.
func (b *logBuffer) hold() {
	b.mu.Lock()
	b.buffering = true
	b.mu.Unlock()
}

// release stops buffering and passes the held records on, in order.
func (b *logBuffer) release(ctx context.Context, next slog.Handler) {
	b.mu.Lock()
	held, dropped := b.held, b.dropped
	b.held, b.dropped, b.buffering = nil, 0, false
	b.mu.Unlock()
	for _, hr := range held {
		_ = hr.h.Handle(ctx, hr.r)
	}
	if dropped > 0 {
		r := slog.NewRecord(held[len(held)-1].r.Time, slog.LevelWarn, "freeze: log records dropped while frozen", 0)
		r.AddAttrs(slog.Int("dropped", dropped))
		_ = next.Handle(ctx, r)
	}
}
