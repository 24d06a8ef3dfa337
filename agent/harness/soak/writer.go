package soak

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// recordFile is the file each writer appends to, inside its filesystem.
const recordFile = "records.log"

// writer appends checksummed records to one file on a loop filesystem,
// each followed by fsync, the way a database commits, and remembers every
// record it was told is durable. Freezes block it; nothing else should.
type writer struct {
	path     string
	interval time.Duration // pause between records
	rng      *mrand.Rand

	mu      sync.Mutex
	acked   []ack
	written int64 // acknowledged bytes
	err     error // why it stopped early, if it did
	full    bool  // it stopped because the filesystem filled up
}

func newWriter(dir string, interval time.Duration, seed uint64) *writer {
	return &writer{path: filepath.Join(dir, recordFile), interval: interval, rng: mrand.New(mrand.NewPCG(seed, 0x77))}
}

// run writes until ctx ends or a write fails.
func (w *writer) run(ctx context.Context) {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		w.stop(fmt.Errorf("open %s: %w", w.path, err))
		return
	}
	defer f.Close()
	for seq := 0; ctx.Err() == nil; seq++ {
		payload := make([]byte, 64+w.rng.IntN(1984))
		for i := range payload {
			payload[i] = byte(w.rng.Uint32())
		}
		line := formatRecord(seq, payload)
		if _, err := f.Write(line); err != nil {
			w.stop(fmt.Errorf("write %s: %w", w.path, err))
			return
		}
		if err := f.Sync(); err != nil {
			w.stop(fmt.Errorf("fsync %s: %w", w.path, err))
			return
		}
		w.mu.Lock()
		w.acked = append(w.acked, ack{seq: seq, sum: crc(payload), size: len(line)})
		w.written += int64(len(line))
		w.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(w.interval):
		}
	}
}

func (w *writer) stop(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if errors.Is(err, syscall.ENOSPC) {
		w.full = true
		return
	}
	w.err = err
}

// verify reads the file back and checks every acknowledged record.
func (w *writer) verify() (recordLoss, error) {
	w.mu.Lock()
	acked := w.acked
	w.mu.Unlock()
	data, err := os.ReadFile(w.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return recordLoss{}, fmt.Errorf("read back %s: %w", w.path, err)
	}
	return verifyRecords(data, acked), nil
}

// stats returns what the writer acknowledged and why it stopped early.
func (w *writer) stats() (records int, bytes int64, full bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked), w.written, w.full, w.err
}
