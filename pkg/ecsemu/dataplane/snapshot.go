package dataplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Snapshot is one disk captured at one instant.
type Snapshot struct {
	ID     string
	DiskID string
	Size   int64
	// Changed is what the snapshot costs to make: the whole disk for a
	// disk's first snapshot, else the bytes of the chunks written since
	// the previous one. The API emulator turns it into progress.
	Changed int64
	// At is the instant of the capture.
	At time.Time
	// Pause is how long the capture held the disk's gate closed (for a
	// group, the whole group's window).
	Pause time.Duration

	path string
	d    *disk
	ep   *epoch
	done chan struct{}

	mu  sync.Mutex
	err error
}

// Member is one disk of a group capture and the ID its snapshot gets.
type Member struct {
	SnapshotID string
	DiskID     string
}

// Done is closed when the snapshot's bytes are all copied.
func (s *Snapshot) Done() <-chan struct{} { return s.done }

// Err is why the copy failed, once Done is closed (nil if it did not).
func (s *Snapshot) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Wait waits for the copy and returns its error.
func (s *Snapshot) Wait(ctx context.Context) error {
	select {
	case <-s.done:
		return s.Err()
	case <-ctx.Done():
		return fmt.Errorf("wait for snapshot %s: %w", s.ID, ctx.Err())
	}
}

func (s *Snapshot) cancel() {
	if s.ep != nil {
		s.ep.cancel()
	}
}

// Capture snapshots disk diskID as it is at the instant of the call.
func (p *Plane) Capture(snapID, diskID string) (*Snapshot, error) {
	ss, err := p.CaptureGroup([]Member{{SnapshotID: snapID, DiskID: diskID}})
	if err != nil {
		return nil, err
	}
	return ss[0], nil
}

// CaptureGroup snapshots every member at one instant: every member's gate
// is closed (writes in flight finish, new ones wait), each gets a
// copy-on-write epoch, and the gates reopen. The gates stay closed for the
// bookkeeping only; the bytes are copied afterwards.
func (p *Plane) CaptureGroup(members []Member) ([]*Snapshot, error) {
	if len(members) == 0 {
		return nil, errors.New("capture: no members")
	}
	p.captureMu.Lock()
	defer p.captureMu.Unlock()
	var disks []*disk
	seen := map[string]bool{}
	p.mu.Lock()
	for _, m := range members {
		if err := validID(m.SnapshotID); err != nil {
			p.mu.Unlock()
			return nil, err
		}
		d, ok := p.disks[m.DiskID]
		switch {
		case !ok:
			p.mu.Unlock()
			return nil, fmt.Errorf("capture disk %s: %w", m.DiskID, ErrNoDisk)
		case seen[m.DiskID]:
			p.mu.Unlock()
			return nil, fmt.Errorf("capture: disk %s given twice", m.DiskID)
		case p.snaps[m.SnapshotID] != nil:
			p.mu.Unlock()
			return nil, fmt.Errorf("snapshot %s: %w", m.SnapshotID, ErrExists)
		}
		seen[m.DiskID] = true
		disks = append(disks, d)
	}
	p.mu.Unlock()

	// Everything that can fail or take time happens before the gates close.
	snaps := make([]*Snapshot, len(members))
	for i, m := range members {
		d := disks[i]
		path := p.snapshotPath(m.SnapshotID)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err == nil {
			err = f.Truncate(d.size)
		}
		if err != nil {
			for _, s := range snaps[:i] {
				s.ep.dst.Close()
				os.Remove(s.path)
			}
			if f != nil {
				f.Close()
			}
			return nil, fmt.Errorf("capture disk %s: %w", d.id, err)
		}
		snaps[i] = &Snapshot{ID: m.SnapshotID, DiskID: d.id, Size: d.size, path: path, d: d, ep: newEpoch(d.f, f, d.size, d.chunk), done: make(chan struct{})}
	}

	start := time.Now()
	for _, d := range disks {
		d.gate.closeForCapture()
	}
	at := p.now()
	for i, d := range disks {
		snaps[i].Changed = d.startEpoch(snaps[i].ep)
	}
	for _, d := range disks {
		d.gate.openAfterCapture()
	}
	pause := time.Since(start)

	p.mu.Lock()
	for _, s := range snaps {
		s.At, s.Pause = at, pause
		p.snaps[s.ID] = s
	}
	p.mu.Unlock()
	for _, s := range snaps {
		go p.copyOut(s)
	}
	p.log.Info("data plane capture", "disks", len(disks), "pause", pause)
	return snaps, nil
}

// copyOut is a snapshot's background copy.
func (p *Plane) copyOut(s *Snapshot) {
	err := s.ep.run()
	s.d.endEpoch(s.ep)
	if cerr := s.ep.dst.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, errCanceled) {
		p.log.Error("data plane snapshot copy failed", "snapshot", s.ID, "err", err)
	}
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	close(s.done)
}

// Snapshot returns snapshot id.
func (p *Plane) Snapshot(id string) (*Snapshot, error) { return p.snapshot(id) }

// DeleteSnapshot drops snapshot id and its file (its copy stops).
func (p *Plane) DeleteSnapshot(id string) error {
	p.mu.Lock()
	s, ok := p.snaps[id]
	delete(p.snaps, id)
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("snapshot %s: %w", id, ErrNoSnapshot)
	}
	s.cancel()
	<-s.done
	if err := os.Remove(s.path); err != nil {
		return fmt.Errorf("delete snapshot %s: %w", id, err)
	}
	return nil
}
