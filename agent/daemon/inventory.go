package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/ecssnap/ecssnap/pkg/job"
)

// inventoryTTL is how long the daemon answers plans and disk listings from
// the inventory it has. Every job reads a fresh one (and leaves it here),
// so a plan after a job sees what the job saw.
const inventoryTTL = time.Minute

// inventoryCache is the daemon's current inventory: POST /v1/plan and
// GET /v1/disks are answered from it instead of a DescribeDisks call each,
// since every call draws from the API rate limit the whole account shares.
// One fetch runs at a time; concurrent readers wait for it and share its
// answer.
type inventoryCache struct {
	now func() time.Time

	mu       sync.Mutex // held across a fetch
	inv      *job.Inventory
	instance string
	at       time.Time
	fetches  int

	// The warm view (view.go): whether kernel notices are watched, a
	// create proved the view stale, the quota headroom at the last count
	// and the snapshots created since, and the keeper's notice queue.
	watching      bool
	stale         bool
	headroom      int
	headroomKnown bool
	added         int
	notices       chan notice
}

var _ job.InventoryCache = (*inventoryCache)(nil)

func (c *inventoryCache) Inventory(ctx context.Context, instanceID string, fetch func(context.Context) (*job.Inventory, error), fresh bool) (*job.Inventory, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !fresh && c.inv != nil && c.instance == instanceID && c.now().Sub(c.at) < inventoryTTL {
		return c.inv, nil
	}
	inv, err := fetch(ctx)
	c.fetches++
	if err != nil {
		return nil, err
	}
	c.inv, c.instance, c.at, c.stale = inv, instanceID, c.now(), false
	return inv, nil
}

// invalidate drops the cached inventory (the configuration changed).
func (c *inventoryCache) invalidate() {
	c.mu.Lock()
	c.inv = nil
	c.mu.Unlock()
}
