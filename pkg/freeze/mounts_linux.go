package freeze

import (
	"golang.org/x/sys/unix"

	"errors"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/ecssnap/ecssnap/pkg/freeze/ioctl"
)

// btrfsMagic is BTRFS_SUPER_MAGIC from statfs(2).
const btrfsMagic = 0x9123683E

// fsOps is what the helper and the guard do to filesystems, behind an
// interface so that their logic (deadlines, a FIFREEZE that hangs, EBUSY,
// the order of thaws) is tested with a fake, without root, while the real
// kernelFS is tested against loop devices.
type fsOps interface {
	// Open opens a mount point and returns the device that identifies
	// its superblock.
	Open(m wireMount) (fd int, dev uint64, err error)
	Freeze(fd int) error
	Thaw(fd int) error
	// Prepare readies the process, before anything is frozen, to have n
	// ioctls in the kernel at once (the widest level).
	Prepare(n int)
	// Sync writes a filesystem's dirty data (syncfs) before the freeze,
	// so that FIFREEZE, which must flush it inside the window, finds
	// little left.
	Sync(fd int) error
}

// kernelFS is the real fsOps.
type kernelFS struct{}

func (kernelFS) Open(m wireMount) (int, uint64, error) { return openMountFD(m) }
func (kernelFS) Freeze(fd int) error                   { return ioctl.Freeze(fd) }
func (kernelFS) Thaw(fd int) error                     { return ioctl.Thaw(fd) }
func (kernelFS) Prepare(n int)                         { readyThreads(n) }
func (kernelFS) Sync(fd int) error                     { return unix.Syncfs(fd) }

// errMountChanged: the path no longer shows the filesystem it was meant to.
var errMountChanged = errors.New("mount changed")

func closeFD(fd int) {
	if fd >= 0 {
		_ = syscall.Close(fd)
	}
}

// openMountFD opens a mount point for the freeze ioctls and checks that it
// still is the filesystem the caller meant: mounts change, and freezing
// whatever a stale path now shows (often the parent, too early) is exactly
// the mistake this package exists to prevent. It returns the fd and the
// device number stat reports for it.
func openMountFD(m wireMount) (int, uint64, error) {
	// O_NOFOLLOW: mountinfo paths are resolved, a symlink there is a change.
	fd, err := syscall.Open(m.Path, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1, 0, fmt.Errorf("open %s: %w", m.Path, err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return -1, 0, fmt.Errorf("stat %s: %w", m.Path, err)
	}
	if err := checkDevice(fd, m, st.Dev); err != nil {
		syscall.Close(fd)
		return -1, 0, err
	}
	return fd, st.Dev, nil
}

func checkDevice(fd int, m wireMount, dev uint64) error {
	if m.Dev == "" {
		return nil
	}
	if m.FSType == "btrfs" {
		// stat on btrfs reports the subvolume's anonymous device, which
		// differs from mountinfo's for a subvolume mount; check the type.
		var sfs syscall.Statfs_t
		if err := syscall.Fstatfs(fd, &sfs); err != nil {
			return fmt.Errorf("statfs %s: %w", m.Path, err)
		}
		if uint32(sfs.Type) != btrfsMagic {
			return fmt.Errorf("%w: %s is no longer a btrfs filesystem", errMountChanged, m.Path)
		}
		return nil
	}
	if got := devString(dev); got != m.Dev {
		return fmt.Errorf("%w: %s is now device %s, expected %s", errMountChanged, m.Path, got, m.Dev)
	}
	return nil
}

// devString renders a dev_t as "major:minor" the way mountinfo does
// (glibc's encoding of the 64-bit dev_t).
func devString(dev uint64) string {
	major := (dev>>8)&0xfff | (dev>>32)&^uint64(0xfff)
	minor := dev&0xff | (dev>>12)&^uint64(0xff)
	return fmt.Sprintf("%d:%d", major, minor)
}

// thawResult is the outcome of one bounded FITHAW.
type thawResult struct {
	start, end time.Time
	err        error
	pending    bool // still blocked in the kernel when we stopped waiting
}

// harmlessThaw reports whether err from FITHAW still means "not frozen now".
func harmlessThaw(err error) bool {
	return err == nil || errors.Is(err, ioctl.ErrNotFrozen) || errors.Is(err, ioctl.ErrNotSupported)
}

// thawBounded thaws fds one after another, each as a batch of its own (see
// thawBatches).
func thawBounded(thaw func(fd int) error, fds []int, step, total time.Duration) []thawResult {
	batches := make([][]int, len(fds))
	for k, fd := range fds {
		batches[k] = []int{fd}
	}
	out := make([]thawResult, 0, len(fds))
	for _, rs := range thawBatches(thaw, batches, step, total) {
		out = append(out, rs[0])
	}
	return out
}

// thawBatches thaws the batches one after another and the fds of a batch at
// once, each FITHAW on its own goroutine (and thread while in the kernel).
// It waits at most step for a batch before starting the next, so that one
// thaw stuck behind a hung freeze cannot keep the others frozen, and then
// awaits the stuck ones until total has passed. The result for
// batches[b][k] is at [b][k]; one still in the kernel is reported pending.
func thawBatches(thaw func(fd int) error, batches [][]int, step, total time.Duration) [][]thawResult {
	var mu sync.Mutex // guards results: a stuck goroutine may write late
	results := make([][]thawResult, len(batches))
	finished := make([]chan struct{}, len(batches))
	for b, fds := range batches {
		results[b] = make([]thawResult, len(fds))
		var wg sync.WaitGroup
		for k, fd := range fds {
			results[b][k].pending = true
			wg.Go(func() {
				start := time.Now()
				err := thaw(fd)
				end := time.Now()
				mu.Lock()
				results[b][k] = thawResult{start: start, end: end, err: err}
				mu.Unlock()
			})
		}
		finished[b] = make(chan struct{})
		go func() {
			wg.Wait()
			close(finished[b])
		}()
		t := time.NewTimer(step)
		select {
		case <-finished[b]:
		case <-t.C:
		}
		t.Stop()
	}
	limit := time.NewTimer(total)
	defer limit.Stop()
wait:
	for _, f := range finished {
		select {
		case <-f:
		case <-limit.C:
			break wait // the rest stay pending
		}
	}
	mu.Lock()
	defer mu.Unlock()
	out := make([][]thawResult, len(results))
	for b := range results {
		out[b] = slices.Clone(results[b])
	}
	return out
}
