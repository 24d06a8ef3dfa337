package dataplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// DefaultChunk is the copy-on-write and change-tracking granularity.
const DefaultChunk = 64 << 10

// The data directory's layout.
const (
	dirImages    = "disks"     // <disk-id>.img
	dirSnapshots = "snapshots" // <snapshot-id>.img
	dirMount     = "fuse"      // where the images are served
	imageSuffix  = ".img"
)

// Errors a caller can act on.
var (
	ErrNoDisk     = errors.New("no such disk")
	ErrNoSnapshot = errors.New("no such snapshot")
	ErrExists     = errors.New("already exists")
	ErrAttached   = errors.New("disk is attached")
	ErrNotServed  = errors.New("data plane is not serving (call Serve)")
)

// Options configure a Plane.
type Options struct {
	// Dir holds the images, the snapshots and the FUSE mount point.
	Dir string
	// Chunk is the copy-on-write granularity (default DefaultChunk).
	Chunk int64
	// Logger receives the data plane's log (default: discarded).
	Logger *slog.Logger
	// Now is the clock of capture instants (default time.Now).
	Now func() time.Time
}

// Plane is the data plane: the disks' bytes and their snapshots. It is
// safe for concurrent use.
type Plane struct {
	dir   string
	chunk int64
	log   *slog.Logger
	now   func() time.Time

	captureMu sync.Mutex // one capture at a time, so instants are ordered

	mu     sync.Mutex
	disks  map[string]*disk
	snaps  map[string]*Snapshot
	server *server   // nil until Serve
	view   *keptView // nil unless KeepGuestView
	closed bool
}

// New makes a Plane over opts.Dir. Snapshots do not outlive the process
// (the API emulator's state does not), so a snapshot directory left by an
// earlier run is emptied; disk images are kept and reused by AddDisk.
func New(opts Options) (*Plane, error) {
	if opts.Dir == "" {
		return nil, errors.New("data plane: no directory")
	}
	p := &Plane{dir: opts.Dir, chunk: opts.Chunk, log: opts.Logger, now: opts.Now, disks: map[string]*disk{}, snaps: map[string]*Snapshot{}}
	if p.chunk <= 0 {
		p.chunk = DefaultChunk
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if err := os.RemoveAll(filepath.Join(p.dir, dirSnapshots)); err != nil {
		return nil, fmt.Errorf("data plane: clear old snapshots: %w", err)
	}
	for _, sub := range []string{dirImages, dirSnapshots} {
		if err := os.MkdirAll(filepath.Join(p.dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("data plane: %w", err)
		}
	}
	return p, nil
}

// Dir is the data directory.
func (p *Plane) Dir() string { return p.dir }

func (p *Plane) imagePath(id string) string {
	return filepath.Join(p.dir, dirImages, id+imageSuffix)
}

func (p *Plane) snapshotPath(id string) string {
	return filepath.Join(p.dir, dirSnapshots, id+imageSuffix)
}

// validID keeps IDs usable as file names.
func validID(id string) error {
	if id == "" || id == "." || id == ".." || filepath.Base(id) != id || len(id) > 128 {
		return fmt.Errorf("%q is not a usable ID", id)
	}
	return nil
}

// AddDisk gives disk id an image of size bytes: a new sparse one, or the
// one an earlier run left (its size must match).
func (p *Plane) AddDisk(id string, size int64) error {
	if err := validID(id); err != nil {
		return err
	}
	if size <= 0 || size%512 != 0 {
		return fmt.Errorf("disk %s: size %d is not a positive multiple of 512", id, size)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.disks[id]; ok {
		return fmt.Errorf("disk %s: %w", id, ErrExists)
	}
	path := p.imagePath(id)
	create := true
	if st, err := os.Stat(path); err == nil {
		if st.Size() != size {
			return fmt.Errorf("disk %s: image %s is %d bytes, not %d", id, path, st.Size(), size)
		}
		create = false
	}
	d, err := openDisk(id, path, size, p.chunk, create)
	if err != nil {
		return err
	}
	p.disks[id] = d
	p.serveDisk(d)
	p.log.Info("data plane disk added", "disk", id, "size", size, "new", create)
	return nil
}

// CreateDisk makes disk id from snapshot snapID (what CreateDisk with a
// SnapshotId does): its image is the snapshot's bytes, by reflink where
// the store can. It waits for the snapshot's copy to finish.
func (p *Plane) CreateDisk(ctx context.Context, id, snapID string) error {
	if err := validID(id); err != nil {
		return err
	}
	s, err := p.snapshot(snapID)
	if err != nil {
		return err
	}
	if err := s.Wait(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	_, exists := p.disks[id]
	p.mu.Unlock()
	if exists {
		return fmt.Errorf("disk %s: %w", id, ErrExists)
	}
	path := p.imagePath(id)
	_ = os.Remove(path) // a stale image of a deleted disk
	d, err := openDisk(id, path, s.Size, p.chunk, true)
	if err != nil {
		return err
	}
	if err := cloneSnapshot(d.f, s); err != nil {
		d.f.Close()
		os.Remove(path)
		return fmt.Errorf("disk %s from snapshot %s: %w", id, snapID, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.disks[id]; ok {
		d.f.Close()
		return fmt.Errorf("disk %s: %w", id, ErrExists)
	}
	p.disks[id] = d
	p.serveDisk(d)
	p.log.Info("data plane disk created from snapshot", "disk", id, "snapshot", snapID)
	return nil
}

func cloneSnapshot(dst *os.File, s *Snapshot) error {
	src, err := os.Open(s.path)
	if err != nil {
		return err
	}
	defer src.Close()
	return cloneFile(dst, src, s.Size)
}

// ResetDisk rolls disk id back to snapshot snapID (ResetDisk). The disk
// must be detached, as the cloud wants its instance stopped. Its next
// snapshot is a full one.
func (p *Plane) ResetDisk(ctx context.Context, id, snapID string) error {
	d, err := p.disk(id)
	if err != nil {
		return err
	}
	s, err := p.snapshot(snapID)
	if err != nil {
		return err
	}
	if s.DiskID != id {
		return fmt.Errorf("snapshot %s is of disk %s, not %s", snapID, s.DiskID, id)
	}
	if d.attached() {
		return fmt.Errorf("reset disk %s: %w", id, ErrAttached)
	}
	if err := s.Wait(ctx); err != nil {
		return err
	}
	d.gate.closeForCapture()
	defer d.gate.openAfterCapture()
	for _, e := range d.epochsNow() {
		// Captures still copying keep the old bytes: finish them first.
		if err := e.run(); err != nil && !errors.Is(err, errCanceled) {
			return err
		}
	}
	if err := d.f.Truncate(0); err != nil {
		return fmt.Errorf("reset disk %s: %w", id, err)
	}
	if err := cloneSnapshot(d.f, s); err != nil {
		return fmt.Errorf("reset disk %s: %w", id, err)
	}
	d.mu.Lock()
	d.snapshotted = false
	d.mu.Unlock()
	p.log.Info("data plane disk reset", "disk", id, "snapshot", snapID)
	return nil
}

func (d *disk) epochsNow() []*epoch {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.epochs
}

// DeleteDisk removes disk id and its image. It must be detached.
func (p *Plane) DeleteDisk(id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.disks[id]
	if !ok {
		return fmt.Errorf("disk %s: %w", id, ErrNoDisk)
	}
	if d.attached() {
		return fmt.Errorf("delete disk %s: %w", id, ErrAttached)
	}
	p.unserveDisk(d)
	delete(p.disks, id)
	d.f.Close()
	if err := os.Remove(d.path); err != nil {
		return fmt.Errorf("delete disk %s: %w", id, err)
	}
	return nil
}

// Disks lists the disk IDs, sorted.
func (p *Plane) Disks() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]string, 0, len(p.disks))
	for id := range p.disks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// HasDisk reports whether disk id exists.
func (p *Plane) HasDisk(id string) bool {
	_, err := p.disk(id)
	return err == nil
}

// Image returns the path of disk id's image file (for reading it offline;
// writing it behind the data plane's back defeats the gate).
func (p *Plane) Image(id string) (string, error) {
	d, err := p.disk(id)
	if err != nil {
		return "", err
	}
	return d.path, nil
}

// Pause closes disk id's write gate: new guest writes block until Resume.
// It returns once no write is in flight; it is a no-op on a paused disk.
func (p *Plane) Pause(id string) error {
	d, err := p.disk(id)
	if err != nil {
		return err
	}
	d.gate.hold()
	return nil
}

// Resume reopens disk id's write gate; a no-op on a running disk.
func (p *Plane) Resume(id string) error {
	d, err := p.disk(id)
	if err != nil {
		return err
	}
	d.gate.release()
	return nil
}

// Paused reports whether Pause holds disk id.
func (p *Plane) Paused(id string) (bool, error) {
	d, err := p.disk(id)
	if err != nil {
		return false, err
	}
	return d.gate.paused(), nil
}

func (p *Plane) disk(id string) (*disk, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.disks[id]
	if !ok {
		return nil, fmt.Errorf("disk %s: %w", id, ErrNoDisk)
	}
	return d, nil
}

func (p *Plane) snapshot(id string) (*Snapshot, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.snaps[id]
	if !ok {
		return nil, fmt.Errorf("snapshot %s: %w", id, ErrNoSnapshot)
	}
	return s, nil
}

// Close detaches every loop device, unmounts the FUSE mount and closes the
// images. Snapshot copies still running are abandoned.
func (p *Plane) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	disks := make([]*disk, 0, len(p.disks))
	for _, d := range p.disks {
		disks = append(disks, d)
	}
	snaps := make([]*Snapshot, 0, len(p.snaps))
	for _, s := range p.snaps {
		s.cancel()
		snaps = append(snaps, s)
	}
	srv := p.server
	p.server = nil
	p.mu.Unlock()
	var errs []error
	for _, d := range disks {
		if err := d.detach(); err != nil {
			errs = append(errs, err)
		}
		// A writer the gate still holds would keep the FUSE request open.
		d.gate.release()
	}
	if srv != nil {
		errs = append(errs, srv.close())
	}
	for _, s := range snaps {
		<-s.done // canceled: ends at its next chunk
	}
	for _, d := range disks {
		d.f.Close()
	}
	return errors.Join(errs...)
}
