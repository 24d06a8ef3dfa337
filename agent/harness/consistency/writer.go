package consistency

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ack is a record the writer saw made durable: write and fsync returned.
type ack struct {
	seq  uint64
	file string
	at   time.Time
}

// writer appends fsync'd records to files in dir, a new file every
// perFile records, deleting the oldest beyond keep: data and metadata
// change all the time, as under a real application, and freed space is
// reused. It logs a record as acknowledged only after fsync returned.
type writer struct {
	dir     string
	name    string
	payload []byte
	perFile int
	keep    int

	mu      sync.Mutex
	seq     uint64
	fileNo  int
	files   []string             // live, oldest first
	deleted map[string]time.Time // file -> when its deletion began
	acks    []ack
}

func newWriter(dir, name string, recordSize, perFile, keep int, seed uint64) *writer {
	p := make([]byte, recordSize)
	r := rand.New(rand.NewPCG(seed, 0x636f6e73))
	for i := 0; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], r.Uint64())
	}
	return &writer{dir: dir, name: name, payload: p, perFile: perFile, keep: keep, deleted: map[string]time.Time{}}
}

// run writes until ctx ends or a write fails (the error is returned).
func (w *writer) run(ctx context.Context) error {
	var f *os.File
	var name string
	n := 0
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	buf := make([]byte, 0, headerSize+len(w.payload))
	for ctx.Err() == nil {
		if f == nil || n == w.perFile {
			if f != nil {
				f.Close()
			}
			var err error
			if f, name, err = w.nextFile(); err != nil {
				return err
			}
			n = 0
		}
		w.mu.Lock()
		w.seq++
		seq := w.seq
		w.mu.Unlock()
		binary.LittleEndian.PutUint64(w.payload, seq)
		buf = appendRecord(buf[:0], seq, w.payload)
		if _, err := f.Write(buf); err != nil {
			return fmt.Errorf("write record %d: %w", seq, err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("fsync record %d: %w", seq, err)
		}
		now := time.Now()
		w.mu.Lock()
		w.acks = append(w.acks, ack{seq: seq, file: name, at: now})
		w.mu.Unlock()
		n++
	}
	return nil
}

// nextFile creates the next file (its name made durable by fsyncing the
// directory) and deletes the oldest beyond keep.
func (w *writer) nextFile() (*os.File, string, error) {
	w.mu.Lock()
	w.fileNo++
	name := fmt.Sprintf("%s-%06d.rec", w.name, w.fileNo)
	w.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(w.dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, "", fmt.Errorf("create %s: %w", name, err)
	}
	if err := syncDir(w.dir); err != nil {
		f.Close()
		return nil, "", err
	}
	w.mu.Lock()
	w.files = append(w.files, name)
	var drop []string
	for len(w.files) > w.keep {
		drop = append(drop, w.files[0])
		w.deleted[w.files[0]] = time.Now()
		w.files = w.files[1:]
	}
	w.mu.Unlock()
	for _, old := range drop {
		if err := os.Remove(filepath.Join(w.dir, old)); err != nil {
			f.Close()
			return nil, "", fmt.Errorf("delete %s: %w", old, err)
		}
	}
	return f, name, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// expected lists the records that a capture taken between t0 and t1 must
// hold: acknowledged before t0, in a file whose deletion (if any) began
// after t1.
func (w *writer) expected(t0, t1 time.Time) []uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []uint64
	for _, a := range w.acks {
		if !a.at.Before(t0) {
			break
		}
		if del, ok := w.deleted[a.file]; ok && !del.After(t1) {
			continue
		}
		out = append(out, a.seq)
	}
	return out
}
