package imds

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Identity is what never changes for an instance, so it is read once per
// process: the metadata service rate-limits and every job needs it.
type Identity struct {
	InstanceID   string `json:"instance_id"`
	RegionID     string `json:"region_id"`
	ZoneID       string `json:"zone_id"`
	InstanceType string `json:"instance_type,omitempty"`
}

// Identity returns the instance's identity, read on first use and cached.
// A failed read is not cached, so a later call tries again.
func (c *Client) Identity(ctx context.Context) (Identity, error) {
	c.identityMu.Lock()
	defer c.identityMu.Unlock()
	if c.identity != nil {
		return *c.identity, nil
	}
	var id Identity
	for _, item := range []struct {
		path     string
		dst      *string
		optional bool
	}{
		{"instance-id", &id.InstanceID, false},
		{"region-id", &id.RegionID, false},
		{"zone-id", &id.ZoneID, false},
		{"instance/instance-type", &id.InstanceType, true},
	} {
		v, err := c.Get(ctx, item.path)
		switch {
		case err == nil:
		case errors.Is(err, ErrNotFound) && item.optional:
			continue
		case errors.Is(err, ErrNotFound):
			// Every ECS instance has these: what answered is not its
			// metadata service.
			return Identity{}, &UnreachableError{URL: c.base, Err: &badAnswer{Item: item.path, Status: "404 Not Found"}}
		case errors.As(err, new(*UnreachableError)):
			return Identity{}, err // says all there is to say
		default:
			return Identity{}, fmt.Errorf("read instance identity: %w", err)
		}
		*item.dst = v
	}
	if err := checkIdentity(id); err != nil {
		return Identity{}, &UnreachableError{URL: c.base, Err: err}
	}
	c.identity = &id
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
