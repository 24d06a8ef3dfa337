package freeze

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/freeze/ioctl"
)

// fakeFS is an fsOps that freezes nothing: it opens real (temporary)
// directories so that descriptors are genuine, gives each a synthetic
// device, and keeps the frozen state in memory. A freeze can be made to
// hang until released, or to find the filesystem frozen by someone else.
type fakeFS struct {
	mu     sync.Mutex
	dirs   map[string]uint64 // path -> device
	fdDev  map[int]uint64
	frozen map[uint64]bool
	other  map[uint64]bool // frozen by someone else
	hang   map[uint64]chan struct{}
	fail   map[uint64]error // what FIFREEZE returns instead of freezing
	meet   *rendezvous      // nil, or every FIFREEZE waits there first
	meetT  *rendezvous      // nil, or every FITHAW waits there first
	width  int              // what the helper asked Prepare for
	log    []fakeOp
}

type fakeOp struct {
	op  string // "freeze", "thaw", "thaw-other" (a violation)
	dev uint64
	at  time.Time
}

// newFakeFS makes n directories with devices 1..n.
func newFakeFS(t *testing.T, n int) (*fakeFS, []wireMount) {
	f := newFakeState()
	var ms []wireMount
	for i := range n {
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("m%d", i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		f.dirs[dir] = uint64(i + 1)
		ms = append(ms, wireMount{Path: dir})
	}
	return f, ms
}

func newFakeState() *fakeFS {
	return &fakeFS{dirs: map[string]uint64{}, fdDev: map[int]uint64{}, frozen: map[uint64]bool{},
		other: map[uint64]bool{}, hang: map[uint64]chan struct{}{}, fail: map[uint64]error{}}
}

// newFakeTree makes nested directories named like "a", "a/b", "d" under one
// temporary root, with devices 1..n in the order named, and returns them as
// the parent would send them: in freeze order with their levels, as
// classifyLevels computes them. dev maps each name to its device.
func newFakeTree(t *testing.T, names ...string) (f *fakeFS, ms []wireMount, dev map[string]uint64) {
	f, dev = newFakeState(), map[string]uint64{}
	root := t.TempDir()
	var targets []Target
	for i, name := range names {
		dir := filepath.Join(root, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		f.dirs[dir] = uint64(i + 1)
		dev[name] = uint64(i + 1)
		targets = append(targets, Target{MountPoint: dir, FSType: "ext4", Dev: fmt.Sprintf("7:%d", i+1)})
	}
	frozen, levels, _ := classifyLevels(targets)
	for i, tg := range frozen {
		ms = append(ms, wireMount{Path: tg.MountPoint, Level: levels[i]})
	}
	return f, ms, dev
}

func (f *fakeFS) Open(m wireMount) (int, uint64, error) {
	dev, ok := f.dirs[m.Path]
	if !ok {
		return -1, 0, fmt.Errorf("open %s: %w", m.Path, os.ErrNotExist)
	}
	fd, err := syscall.Open(m.Path, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1, 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fdDev[fd] = dev
	return fd, dev, nil
}

func (f *fakeFS) Freeze(fd int) error {
	f.mu.Lock()
	dev := f.fdDev[fd]
	ch := f.hang[dev]
	meet := f.meet
	f.mu.Unlock()
	if meet != nil {
		meet.arrive()
	}
	if ch != nil {
		<-ch // a FIFREEZE waiting for writers to drain
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail[dev]; err != nil {
		return err
	}
	if f.frozen[dev] || f.other[dev] {
		return fmt.Errorf("FIFREEZE: %w: %w", ioctl.ErrAlreadyFrozen, syscall.EBUSY)
	}
	f.frozen[dev] = true
	f.log = append(f.log, fakeOp{"freeze", dev, time.Now()})
	return nil
}

func (f *fakeFS) Thaw(fd int) error {
	f.mu.Lock()
	meet := f.meetT
	f.mu.Unlock()
	if meet != nil {
		meet.arrive()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	dev := f.fdDev[fd]
	switch {
	case f.other[dev]:
		f.other[dev] = false
		f.log = append(f.log, fakeOp{"thaw-other", dev, time.Now()})
		return nil
	case !f.frozen[dev]:
		return fmt.Errorf("FITHAW: %w: %w", ioctl.ErrNotFrozen, syscall.EINVAL)
	}
	f.frozen[dev] = false
	f.log = append(f.log, fakeOp{"thaw", dev, time.Now()})
	return nil
}

// Prepare records the width; the fake needs no threads.
func (f *fakeFS) Sync(int) error { return nil }

func (f *fakeFS) Prepare(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.width = n
}

// rendezvous holds each arriving FIFREEZE until n have arrived, or until
// limit has passed for it: a freeze that runs alone waits out the limit
// and is counted as missed, so a serial freezer fails the test in bounded
// time instead of hanging it.
type rendezvous struct {
	n      int
	limit  time.Duration
	mu     sync.Mutex
	count  int
	missed int
	all    chan struct{}
}

func newRendezvous(n int, limit time.Duration) *rendezvous {
	return &rendezvous{n: n, limit: limit, all: make(chan struct{})}
}

func (r *rendezvous) arrive() {
	r.mu.Lock()
	r.count++
	if r.count == r.n {
		close(r.all)
	}
	r.mu.Unlock()
	t := time.NewTimer(r.limit)
	defer t.Stop()
	select {
	case <-r.all:
	case <-t.C:
		r.mu.Lock()
		r.missed++
		r.mu.Unlock()
	}
}

func (r *rendezvous) misses() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.missed
}

// hangOn makes the freeze of dev block until the returned func is called.
func (f *fakeFS) hangOn(dev uint64) (release func()) {
	ch := make(chan struct{})
	f.mu.Lock()
	f.hang[dev] = ch
	f.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// failOn makes the freeze of dev return err.
func (f *fakeFS) failOn(dev uint64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[dev] = err
}

// meetAt makes every FIFREEZE wait at freeze first, and every FITHAW at
// thaw; nil for none.
func (f *fakeFS) meetAt(freeze, thaw *rendezvous) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.meet, f.meetT = freeze, thaw
}

func (f *fakeFS) setFrozen(dev uint64, byOther bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if byOther {
		f.other[dev] = true
	} else {
		f.frozen[dev] = true
	}
}

// ops returns the log as "freeze 1", "thaw 1", ...
func (f *fakeFS) ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, o := range f.log {
		out = append(out, fmt.Sprintf("%s %d", o.op, o.dev))
	}
	return out
}

func (f *fakeFS) opAt(op string, dev uint64) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.log {
		if o.op == op && o.dev == dev {
			return o.at, true
		}
	}
	return time.Time{}, false
}

func (f *fakeFS) anyFrozen() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(mapsValues(f.frozen), true)
}

func mapsValues(m map[uint64]bool) []bool {
	var out []bool
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// eventStream parses protocol lines from r.
func eventStream(r io.Reader) <-chan event {
	ch := make(chan event, 32)
	go func() {
		defer close(ch)
		for l := range readLines(r) {
			if e, err := parseEvent(l.data); err == nil {
				ch <- e
			}
		}
	}()
	return ch
}

// nextEvent waits (bounded) for the next event; ok is false at EOF.
func nextEvent(t *testing.T, ch <-chan event) (event, bool) {
	t.Helper()
	timer := time.NewTimer(settleLimit)
	defer timer.Stop()
	select {
	case e, ok := <-ch:
		return e, ok
	case <-timer.C:
		t.Fatal("no event within the limit")
	}
	return event{}, false
}

// expectEvent waits for an event named ev, failing on anything else.
func expectEvent(t *testing.T, ch <-chan event, ev string) event {
	t.Helper()
	e, ok := nextEvent(t, ch)
	if !ok || e.Ev != ev {
		t.Fatalf("got %+v (open=%v), want %q", e, ok, ev)
	}
	return e
}

func waitCode(t *testing.T, code <-chan int) int {
	t.Helper()
	timer := time.NewTimer(settleLimit)
	defer timer.Stop()
	select {
	case c := <-code:
		return c
	case <-timer.C:
		t.Fatal("did not exit within the limit")
	}
	return -1
}
