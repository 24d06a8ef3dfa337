package imds

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Identity is what never changes for an instance, so it is read once per
// process, or once per boot with Config.IdentityFile: the metadata service
// rate-limits, and every job needs it before its first API call.
type Identity struct {
	InstanceID   string `json:"instance_id"`
	RegionID     string `json:"region_id"`
	ZoneID       string `json:"zone_id"`
	InstanceType string `json:"instance_type,omitempty"`
}

// Identity returns the instance's identity, read on first use and cached,
// from Config.IdentityFile when it holds this boot's, otherwise from the
// service. Callers that come while it is being read share that read and
// its outcome (a job reads it while another part of the process already
// asked for it ahead of time); a failed read is not cached, so a later
// call tries again.
func (c *Client) Identity(ctx context.Context) (Identity, error) {
	c.identityMu.Lock()
	if c.identity != nil {
		id := *c.identity
		c.identityMu.Unlock()
		return id, nil
	}
	if call := c.identityCall; call != nil {
		c.identityMu.Unlock()
		select {
		case <-call.done:
			return call.id, call.err
		case <-ctx.Done():
			return Identity{}, ctx.Err()
		}
	}
	call := &identityCall{done: make(chan struct{})}
	c.identityCall = call
	c.identityMu.Unlock()

	var kept bool
	if call.id, kept = c.kept(); !kept {
		call.id, call.err = c.readIdentity(ctx)
	}
	c.identityMu.Lock()
	if call.err == nil {
		c.identity = &call.id
	}
	c.identityCall = nil
	c.identityMu.Unlock()
	close(call.done)
	if !kept && call.err == nil {
		c.keep(call.id) // for later processes: this one's callers have it
	}
	return call.id, call.err
}

// ReadIdentity reads the identity from the service, whatever is cached, and
// keeps it as Identity would: for a check of the service itself.
func (c *Client) ReadIdentity(ctx context.Context) (Identity, error) {
	id, err := c.readIdentity(ctx)
	if err == nil {
		c.keep(id)
	}
	return id, err
}

// identityCall is a read of the identity in flight.
type identityCall struct {
	done chan struct{}
	id   Identity
	err  error
}

// readIdentity reads the identity's items, all but the first at once, and
// checks what came back.
func (c *Client) readIdentity(ctx context.Context) (Identity, error) {
	var id Identity
	items := []struct {
		path     string
		dst      *string
		optional bool
	}{
		{"instance-id", &id.InstanceID, false},
		{"region-id", &id.RegionID, false},
		{"zone-id", &id.ZoneID, false},
		{"instance/instance-type", &id.InstanceType, true},
	}
	// The first item alone: it fetches the token the others share, and a
	// service that does not answer costs one budget, not one per item.
	errs := make([]error, len(items))
	if *items[0].dst, errs[0] = c.Get(ctx, items[0].path); errs[0] == nil {
		var wg sync.WaitGroup
		for i, item := range items[1:] {
			wg.Go(func() { *item.dst, errs[i+1] = c.Get(ctx, item.path) })
		}
		wg.Wait()
	}
	// The first item's error in their order, as reading them one by one
	// reported it.
	for i, item := range items {
		switch err := errs[i]; {
		case err == nil:
		case errors.Is(err, ErrNotFound) && item.optional:
		case errors.Is(err, ErrNotFound):
			// Every ECS instance has these: what answered is not its
			// metadata service.
			return Identity{}, &UnreachableError{URL: c.base, Err: &badAnswer{Item: item.path, Status: "404 Not Found"}}
		case errors.As(err, new(*UnreachableError)):
			return Identity{}, err // says all there is to say
		default:
			return Identity{}, fmt.Errorf("read instance identity: %w", err)
		}
	}
	if err := checkIdentity(id); err != nil {
		return Identity{}, &UnreachableError{URL: c.base, Err: err}
	}
	return id, nil
}

// DiskSerials maps each disk serial the metadata service lists under disks/
// to its disk ID (disks/<serial>/id). Disks created before 2020-06-10 have no
// serial and are absent.
func (c *Client) DiskSerials(ctx context.Context) (map[string]string, error) {
	entries, err := c.List(ctx, "disks/")
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return map[string]string{}, nil
		}
		return nil, fmt.Errorf("list disks in metadata: %w", err)
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		serial := strings.TrimSuffix(e, "/")
		id, err := c.Get(ctx, "disks/"+serial+"/id")
		if err != nil {
			return nil, fmt.Errorf("disk %s in metadata: %w", serial, err)
		}
		out[serial] = id
	}
	return out, nil
}
