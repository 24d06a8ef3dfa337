package freeze

import (
	"bufio"
	"io"
	"time"
)

// line is one protocol line read from a pipe, or the error that ended it.
type line struct {
	data []byte
	err  error
}

// readLines reads newline-terminated lines from r on a goroutine, so that a
// pipe read never blocks a select that also waits on a deadline. The channel
// is closed at EOF; a read error (a line too long, say) is sent first.
func readLines(r io.Reader) <-chan line {
	ch := make(chan line, 16)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 4096), maxLine+1)
		for sc.Scan() {
			ch <- line{data: append([]byte(nil), sc.Bytes()...)}
		}
		if err := sc.Err(); err != nil {
			ch <- line{err: err}
		}
	}()
	return ch
}

// asyncWriter writes protocol lines on its own goroutine: a reader that
// stops reading must never block the loop that enforces the deadline.
// The volume is a handful of lines per session, far below a pipe's buffer.
type asyncWriter struct {
	ch     chan []byte
	broken chan struct{} // closed when a write fails (the reader is gone)
	done   chan struct{}
}

func newAsyncWriter(w io.Writer) *asyncWriter {
	a := &asyncWriter{ch: make(chan []byte, 64), broken: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		failed := false
		for b := range a.ch {
			if failed {
				continue
			}
			if _, err := w.Write(b); err != nil {
				failed = true
				close(a.broken)
			}
		}
	}()
	return a
}

// send queues v; it never blocks (a full queue drops the line, which with
// the protocol's few lines means the reader has long stopped reading).
func (a *asyncWriter) send(v any) {
	select {
	case a.ch <- encodeLine(v):
	default:
	}
}

// close flushes queued lines, waiting at most limit.
func (a *asyncWriter) close(limit time.Duration) {
	close(a.ch)
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-a.done:
	case <-t.C:
	}
}
