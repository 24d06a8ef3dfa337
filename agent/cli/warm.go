package cli

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/ecssnap/ecssnap/agent/daemon"
	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/job"
)

// keptIdle is how long the daemon keeps an idle API connection: a job
// after a quiet hour still finds it open (unless the server closed it), so
// its create needs no DNS lookup, TCP connect or TLS handshake.
const keptIdle = time.Hour

// keptClouds holds the daemon's cloud clients, one per region.
type keptClouds struct {
	on      bool
	mu      sync.Mutex
	clients map[string]*cloud.Client
}

// cloudFor returns the app's cloud client for region: a new one per job in
// a process that runs one job, the kept one in the daemon.
func (a *app) cloudFor(region string) (*cloud.Client, error) {
	if !a.keep.on {
		return a.newCloud(region)
	}
	a.keep.mu.Lock()
	defer a.keep.mu.Unlock()
	if cl := a.keep.clients[region]; cl != nil {
		return cl, nil
	}
	cl, err := a.newCloud(region)
	if err != nil {
		return nil, err
	}
	if a.keep.clients == nil {
		a.keep.clients = map[string]*cloud.Client{}
	}
	a.keep.clients[region] = cl
	return cl, nil
}

// viewOptions keep the daemon's disk view warm: the quota headroom,
// counted in one call while the instance's disks hold fewer manual
// snapshots in all than one disk may, else per disk (once per check, not
// per job: an instance past that total would otherwise count every disk
// before every job's creates).
func (a *app) viewOptions() *daemon.ViewOptions {
	return &daemon.ViewOptions{
		Headroom: func(ctx context.Context, inv *job.Inventory) (int, error) {
			cl, err := a.cloudFor(inv.Identity.RegionID)
			if err != nil {
				return 0, err
			}
			n, err := cl.CountManualSnapshots(ctx, inv.Identity.InstanceID)
			if err != nil || n < a.quota() {
				return a.quota() - n, err
			}
			most, err := mostOnOneDisk(ctx, cl, inv.Disks)
			return a.quota() - most, err
		},
	}
}

// mostOnOneDisk counts each disk's manual snapshots, the disks at once, and
// returns the largest count.
func mostOnOneDisk(ctx context.Context, cl *cloud.Client, disks []cloud.Disk) (int, error) {
	counts := make([]int, len(disks))
	errs := make([]error, len(disks))
	var wg sync.WaitGroup
	for i, d := range disks {
		wg.Go(func() { counts[i], errs[i] = cl.CountDiskSnapshots(ctx, d.ID) })
	}
	wg.Wait()
	return slices.Max(append(counts, 0)), errors.Join(errs...)
}
