package dataplane

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
)

// disk is one emulated disk: its image file, its write gate, the captures
// still copying out of it, and which chunks changed since its last capture.
type disk struct {
	id    string
	path  string
	size  int64
	chunk int64
	f     *os.File
	gate  *gate

	mu          sync.Mutex
	epochs      []*epoch
	dirty       bitmap // chunks written since the last capture
	snapshotted bool   // a capture was taken since the disk was made or reset
	loop        *loopDevice
}

func openDisk(id, path string, size, chunk int64, create bool) (*disk, error) {
	flags := os.O_RDWR
	if create {
		flags |= os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open image of disk %s: %w", id, err)
	}
	if create {
		if err := f.Truncate(size); err != nil {
			f.Close()
			return nil, fmt.Errorf("size image of disk %s: %w", id, err)
		}
	}
	return &disk{id: id, path: path, size: size, chunk: chunk, f: f, gate: newGate(), dirty: newBitmap(chunks(size, chunk))}, nil
}

// ReadAt reads the live image. Reads pass the gate: they change nothing.
func (d *disk) readAt(p []byte, off int64) (int, error) {
	if off >= d.size {
		return 0, nil
	}
	p = p[:min(int64(len(p)), d.size-off)]
	return d.f.ReadAt(p, off)
}

// writeAt is a guest write: through the gate, after every capture still
// copying has preserved what it overwrites.
func (d *disk) writeAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > d.size {
		return 0, fmt.Errorf("write past the end of disk %s", d.id)
	}
	d.gate.enter()
	defer d.gate.exit()
	if err := d.beforeChange(off, int64(len(p))); err != nil {
		return 0, err
	}
	return d.f.WriteAt(p, off)
}

// punch is a guest discard.
func (d *disk) punch(off, n int64) error {
	n = min(n, d.size-off)
	if n <= 0 {
		return nil
	}
	d.gate.enter()
	defer d.gate.exit()
	if err := d.beforeChange(off, n); err != nil {
		return err
	}
	return punchHole(d.f, off, n)
}

// beforeChange preserves [off, off+n) in every capture still copying and
// marks it changed. A capture deleted meanwhile is skipped.
func (d *disk) beforeChange(off, n int64) error {
	d.mu.Lock()
	eps := d.epochs
	for c := off / d.chunk; c*d.chunk < off+n; c++ {
		d.dirty.set(c)
	}
	d.mu.Unlock()
	for _, e := range eps {
		if err := e.preserve(off, n); err != nil && !errors.Is(err, errCanceled) {
			return err
		}
	}
	return nil
}

// startEpoch is the instant of a capture; the caller holds the gate
// closed. It returns what the capture costs: the whole disk for its first
// capture, else the chunks written since the previous one.
func (d *disk) startEpoch(e *epoch) (changed int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.epochs = append(d.epochs, e)
	old := d.dirty
	d.dirty = newBitmap(chunks(d.size, d.chunk))
	if !d.snapshotted {
		d.snapshotted = true
		return d.size
	}
	return min(old.count()*d.chunk, d.size)
}

// endEpoch forgets a capture that finished or was deleted.
func (d *disk) endEpoch(e *epoch) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.epochs = slices.DeleteFunc(slices.Clone(d.epochs), func(x *epoch) bool { return x == e })
}

// attached reports whether the disk has a loop device.
func (d *disk) attached() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.loop != nil
}
