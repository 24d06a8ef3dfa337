package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ecssnap/ecssnap/pkg/job"
)

// notice is a kind of kernel notice that the inventory may have changed.
type notice int

const (
	noticeBlock notice = iota + 1 // a block device came, went or changed: the cloud disks may have
)

// The warm view's timing. An idle daemon wakes for it once per
// viewRecheck (the cheap periodic check: one DescribeDisks and one
// count), and the kernel's notices renew it in between; noticeSettle lets
// a burst of notices (a disk attached brings several uevents) cost one
// renewal.
const (
	viewRecheck  = 10 * time.Minute
	noticeSettle = 500 * time.Millisecond
)

// ViewOptions keep the daemon's inventory warm between jobs.
type ViewOptions struct {
	// Headroom returns how many manual snapshots the instance's disks
	// (inv's) may still gain in all before one of them could be at its
	// quota; a job whose disks surely have room skips the per-disk
	// counts.
	Headroom func(ctx context.Context, inv *job.Inventory) (int, error)
}

var _ job.WarmView = (*inventoryCache)(nil)

// Current returns the kept inventory while it is current: renewed by every
// notice while the kernel's notices are watched (else for inventoryTTL
// after it was read), never after a create proved it stale.
func (c *inventoryCache) Current(instanceID string) *job.Inventory {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inv == nil || c.instance != instanceID || c.stale {
		return nil
	}
	limit := inventoryTTL
	if c.watching {
		limit = viewRecheck + time.Minute
	}
	if c.now().Sub(c.at) >= limit {
		return nil
	}
	return c.inv
}

// Room reports whether the view's count leaves every disk room for one
// more snapshot.
func (c *inventoryCache) Room(instanceID string, _ int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.headroomKnown && c.instance == instanceID && c.headroom-c.added > 0
}

// Stale marks the view unusable until it is read anew.
func (c *inventoryCache) Stale(why string) {
	c.mu.Lock()
	c.stale = true
	c.mu.Unlock()
	// The job that found it stale reads the inventory anew, which renews
	// the view: no renewal of its own.
}

// addCreated counts snapshots created since the last count.
func (c *inventoryCache) addCreated(n int) {
	c.mu.Lock()
	c.added += n
	c.mu.Unlock()
}

func (c *inventoryCache) setHeadroom(n int, ok bool) {
	c.mu.Lock()
	c.headroom, c.headroomKnown, c.added = n, ok, 0
	c.mu.Unlock()
}

// kick asks the keeper for a renewal without blocking.
func (c *inventoryCache) kick(n notice) {
	if c.notices == nil {
		return
	}
	select {
	case c.notices <- n:
	default:
	}
}

// keepView keeps the inventory warm until ctx ends: read at start, renewed
// on the kernel's notices (a mount change needs no API call: the disks are
// joined to the new mount table) and once per viewRecheck.
func (j *Jobs) keepView(ctx context.Context, opts ViewOptions) {
	c := j.inv
	c.mu.Lock()
	c.notices = make(chan notice, 8)
	c.mu.Unlock()
	go func() {
		c.mu.Lock()
		c.watching = true
		c.mu.Unlock()
		err := watchNotices(ctx, c.kick)
		c.mu.Lock()
		c.watching = false
		c.mu.Unlock()
		if err != nil {
			j.log.Warn("cannot watch the kernel's block device notices; the disk view is read again for jobs after a minute", "error", err)
		}
	}()
	renew := func(full bool) {
		eng := j.newEngine(nil)
		c.mu.Lock()
		inv := c.inv
		c.mu.Unlock()
		if inv != nil {
			// The guest's side first, without a call: a block notice
			// about a device that cannot be a cloud disk of ours (a loop
			// device someone set up) or a mount change needs no more.
			next, err := eng.Rejoin(inv)
			if err == nil && (!full || diskSignature(next, inv) == diskSignature(inv, inv)) {
				c.mu.Lock()
				if c.inv == inv {
					c.inv = next
				}
				c.mu.Unlock()
				return
			}
		}
		fresh, err := eng.RefreshInventory(ctx)
		if err != nil {
			j.log.Warn("could not renew the disk view", "error", err)
		}
		if opts.Headroom != nil && fresh != nil {
			n, err := opts.Headroom(ctx, fresh)
			c.setHeadroom(n, err == nil)
		}
	}
	renew(true)
	timer := time.NewTimer(viewRecheck)
	defer timer.Stop()
	for {
		var full bool
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			full = true
		case n := <-c.notices:
			full = n == noticeBlock
			j.log.Debug("kernel notice: renewing the disk view", "block", full)
			// Let a burst of notices settle into one renewal.
			settle := time.NewTimer(noticeSettle)
		drain:
			for {
				select {
				case n := <-c.notices:
					full = full || n == noticeBlock
				case <-settle.C:
					break drain
				case <-ctx.Done():
					settle.Stop()
					return
				}
			}
		}
		renew(full)
		timer.Reset(viewRecheck)
	}
}

// diskSignature names the guest's disks that are or may be cloud disks in
// inv's topology: those with a serial, and those the view (of) mapped to a
// cloud disk, with their sizes. When it is unchanged after a block notice,
// no disk was attached, detached or resized, and the cloud's list need not
// be read.
func diskSignature(inv, of *job.Inventory) string {
	if inv.Topology == nil {
		return ""
	}
	mapped := map[string]bool{}
	if of.Local != nil {
		for _, dev := range of.Local.Devices {
			mapped[filepath.Base(dev)] = true
		}
	}
	var parts []string
	for _, d := range inv.Topology.Disks() {
		if d.Serial != "" || mapped[d.Name] {
			parts = append(parts, fmt.Sprintf("%s=%s:%d", d.Name, d.Serial, d.SizeBytes))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}
