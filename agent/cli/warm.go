package cli

import (
	"context"
	"sync"
	"time"

	"github.com/ecssnap/ecssnap/agent/daemon"
	"github.com/ecssnap/ecssnap/pkg/cloud"
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

// viewOptions keep the daemon's disk view warm: the quota headroom
// counted in one call.
func (a *app) viewOptions() *daemon.ViewOptions {
	return &daemon.ViewOptions{
		Headroom: func(ctx context.Context) (int, error) {
			id, err := a.metadata().Identity(ctx)
			if err != nil {
				return 0, err
			}
			cl, err := a.cloudFor(id.RegionID)
			if err != nil {
				return 0, err
			}
			n, err := cl.CountManualSnapshots(ctx, id.InstanceID)
			if err != nil {
				return 0, err
			}
			return a.quota() - n, nil
		},
	}
}
