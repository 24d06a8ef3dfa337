package dataplane

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"
)

const testChunk = 4096

func newTestPlane(t *testing.T) *Plane {
	t.Helper()
	p, err := New(Options{Dir: t.TempDir(), Chunk: testChunk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return p
}

func mustDisk(t *testing.T, p *Plane, id string, size int64) *disk {
	t.Helper()
	if err := p.AddDisk(id, size); err != nil {
		t.Fatal(err)
	}
	d, err := p.disk(id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func write(t *testing.T, d *disk, off int64, b byte, n int) {
	t.Helper()
	if _, err := d.writeAt(bytes.Repeat([]byte{b}, n), off); err != nil {
		t.Fatal(err)
	}
}

func snapBytes(t *testing.T, p *Plane, s *Snapshot) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A capture holds the disk as it was at the call, whatever is written
// after it, both in chunks written afterwards (copied before overwrite)
// and in chunks nobody touches (the background copy).
func TestCaptureIsThePointInTime(t *testing.T) {
	p := newTestPlane(t)
	d := mustDisk(t, p, "d-1", 16*testChunk)
	write(t, d, 0, 'a', 16*testChunk)
	want := bytes.Repeat([]byte{'a'}, 16*testChunk)
	s, err := p.Capture("s-1", "d-1")
	if err != nil {
		t.Fatal(err)
	}
	write(t, d, 3*testChunk+100, 'b', 2*testChunk) // spans three chunks
	write(t, d, 15*testChunk, 'c', testChunk)
	if got := snapBytes(t, p, s); !bytes.Equal(got, want) {
		t.Fatalf("snapshot holds writes made after its instant (first difference at %d)", firstDiff(got, want))
	}
	live, _ := os.ReadFile(d.path)
	if live[3*testChunk+100] != 'b' || live[15*testChunk] != 'c' {
		t.Fatal("the writes after the capture did not reach the disk")
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// The first snapshot of a disk costs the whole disk; the next one the
// chunks written in between.
func TestChangedFollowsTheBytes(t *testing.T) {
	p := newTestPlane(t)
	d := mustDisk(t, p, "d-1", 64*testChunk)
	write(t, d, 0, 'a', 10)
	s1, err := p.Capture("s-1", "d-1")
	if err != nil {
		t.Fatal(err)
	}
	if s1.Changed != 64*testChunk {
		t.Errorf("first snapshot costs %d bytes, want the whole disk %d", s1.Changed, 64*testChunk)
	}
	write(t, d, testChunk-1, 'b', 2) // two chunks
	write(t, d, 40*testChunk, 'c', 1)
	s2, err := p.Capture("s-2", "d-1")
	if err != nil {
		t.Fatal(err)
	}
	if s2.Changed != 3*testChunk {
		t.Errorf("second snapshot costs %d bytes, want 3 chunks (%d)", s2.Changed, 3*testChunk)
	}
	s3, err := p.Capture("s-3", "d-1")
	if err != nil {
		t.Fatal(err)
	}
	if s3.Changed != 0 {
		t.Errorf("snapshot of an unchanged disk costs %d bytes, want 0", s3.Changed)
	}
}

// A group captures its members at one instant: a write to one member
// that a capture of the other could see is either in both or in neither.
func TestCaptureGroupOneInstant(t *testing.T) {
	p := newTestPlane(t)
	a := mustDisk(t, p, "d-a", 4*testChunk)
	b := mustDisk(t, p, "d-b", 4*testChunk)
	// A writer writes record i to a, then to b, strictly in turn, so b
	// never runs ahead of a and a is at most one record ahead of b.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := byte(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := a.writeAt([]byte{i}, 0); err != nil {
				t.Error(err)
				return
			}
			if _, err := b.writeAt([]byte{i}, 0); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for k := range 50 {
		ss, err := p.CaptureGroup([]Member{{"s-a" + string(rune('A'+k%26)) + string(rune('a'+k/26)), "d-a"}, {"s-b" + string(rune('A'+k%26)) + string(rune('a'+k/26)), "d-b"}})
		if err != nil {
			t.Fatal(err)
		}
		ga, gb := snapBytes(t, p, ss[0])[0], snapBytes(t, p, ss[1])[0]
		if ga != gb && ga != gb+1 {
			t.Fatalf("group capture %d: disk a at record %d, disk b at %d: not one instant", k, ga, gb)
		}
		if ss[0].At != ss[1].At {
			t.Fatalf("members captured at %v and %v", ss[0].At, ss[1].At)
		}
	}
	close(stop)
	wg.Wait()
}

// Pause and Resume are idempotent; a paused disk blocks writes until resumed.
func TestPauseResumeIdempotent(t *testing.T) {
	p := newTestPlane(t)
	d := mustDisk(t, p, "d-1", 4*testChunk)
	for range 2 {
		if err := p.Pause("d-1"); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() { write(t, d, 0, 'x', 1); close(done) }()
	select {
	case <-done:
		t.Fatal("a write went through a paused gate")
	case <-time.After(50 * time.Millisecond):
	}
	// A capture while paused neither waits for Resume nor ends the pause.
	if _, err := p.Capture("s-1", "d-1"); err != nil {
		t.Fatal(err)
	}
	if paused, _ := p.Paused("d-1"); !paused {
		t.Fatal("a capture ended the operator's pause")
	}
	for range 2 {
		if err := p.Resume("d-1"); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the write stayed blocked after Resume")
	}
	if err := p.Resume("d-1"); err != nil {
		t.Fatal(err)
	}
}

// CreateDisk makes a new disk holding the snapshot's bytes; ResetDisk
// rolls a detached disk back and makes its next snapshot full again.
func TestCreateAndResetFromSnapshot(t *testing.T) {
	p := newTestPlane(t)
	ctx := context.Background()
	d := mustDisk(t, p, "d-1", 8*testChunk)
	write(t, d, 0, 'a', 8*testChunk)
	s, err := p.Capture("s-1", "d-1")
	if err != nil {
		t.Fatal(err)
	}
	write(t, d, 0, 'b', 8*testChunk)
	if err := p.CreateDisk(ctx, "d-clone", "s-1"); err != nil {
		t.Fatal(err)
	}
	clone, _ := p.disk("d-clone")
	got, _ := os.ReadFile(clone.path)
	if !bytes.Equal(got, bytes.Repeat([]byte{'a'}, 8*testChunk)) {
		t.Fatal("the disk made from the snapshot does not hold the snapshot's bytes")
	}
	if err := p.CreateDisk(ctx, "d-clone", "s-1"); !errors.Is(err, ErrExists) {
		t.Fatalf("second CreateDisk of one ID: %v, want ErrExists", err)
	}
	if err := p.CreateDisk(ctx, "d-2", "s-none"); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("CreateDisk from a missing snapshot: %v, want ErrNoSnapshot", err)
	}
	if err := p.ResetDisk(ctx, "d-1", s.ID); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(d.path)
	if !bytes.Equal(got, bytes.Repeat([]byte{'a'}, 8*testChunk)) {
		t.Fatal("the reset disk does not hold the snapshot's bytes")
	}
	s2, err := p.Capture("s-2", "d-1")
	if err != nil {
		t.Fatal(err)
	}
	if s2.Changed != 8*testChunk {
		t.Errorf("snapshot after a reset costs %d, want the whole disk", s2.Changed)
	}
	if err := p.ResetDisk(ctx, "d-clone", s.ID); err == nil {
		t.Error("reset of a disk to another disk's snapshot was accepted")
	}
	if err := p.DeleteSnapshot("s-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("deleted snapshot's file is still there: %v", err)
	}
	if err := p.DeleteDisk("d-clone"); err != nil {
		t.Fatal(err)
	}
	if p.HasDisk("d-clone") {
		t.Error("deleted disk still listed")
	}
}

// Discards punch holes, and a punched chunk is preserved like a write.
func TestPunchIsPreserved(t *testing.T) {
	p := newTestPlane(t)
	d := mustDisk(t, p, "d-1", 4*testChunk)
	write(t, d, 0, 'a', 4*testChunk)
	s, err := p.Capture("s-1", "d-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.punch(testChunk, 2*testChunk); err != nil {
		t.Fatal(err)
	}
	if got := snapBytes(t, p, s); !bytes.Equal(got, bytes.Repeat([]byte{'a'}, 4*testChunk)) {
		t.Fatal("a discard after the capture reached the snapshot")
	}
	live, _ := os.ReadFile(d.path)
	if live[testChunk] != 0 || live[3*testChunk] != 'a' {
		t.Fatal("the discard did not zero its range only")
	}
}

func TestAddDiskRefusals(t *testing.T) {
	p := newTestPlane(t)
	for _, tc := range []struct {
		id   string
		size int64
	}{{"", 4096}, {"../x", 4096}, {"d-1", 0}, {"d-1", 1000}} {
		if err := p.AddDisk(tc.id, tc.size); err == nil {
			t.Errorf("AddDisk(%q, %d) accepted", tc.id, tc.size)
		}
	}
	mustDisk(t, p, "d-1", 4096)
	if err := p.AddDisk("d-1", 4096); !errors.Is(err, ErrExists) {
		t.Errorf("second AddDisk: %v, want ErrExists", err)
	}
	if _, err := p.Capture("s-1", "d-none"); !errors.Is(err, ErrNoDisk) {
		t.Errorf("capture of a missing disk: %v", err)
	}
	if _, err := p.CaptureGroup([]Member{{"s-1", "d-1"}, {"s-2", "d-1"}}); err == nil {
		t.Error("group naming a disk twice accepted")
	}
}
