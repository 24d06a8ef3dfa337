package job

import (
	"context"
	"fmt"
	"net/http/httptrace"
	"path"
	"sync"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/imds"
	"github.com/ecssnap/ecssnap/pkg/plan"
	"github.com/ecssnap/ecssnap/pkg/topology"
)

// Inventory is the instance's disks as the cloud lists them, joined to the
// guest's block devices and mounted filesystems.
type Inventory struct {
	Identity imds.Identity      `json:"identity"`
	Disks    []cloud.Disk       `json:"disks"`
	Mapping  *topology.Mapping  `json:"mapping,omitempty"`
	Local    *plan.Local        `json:"local,omitempty"`
	Topology *topology.Topology `json:"-"`
	// Serials is the metadata service's serial -> disk ID table the join
	// used; a rejoin after a mount change reuses it.
	Serials  map[string]string `json:"-"`
	Warnings []string          `json:"warnings,omitempty"`
}

// Local describes how the engine reads the guest's disk layout.
type Local struct {
	// Discover reads /sys and mountinfo; nil skips local discovery, and
	// filesystems spanning disks then go unrecognised.
	Discover func() (*topology.Topology, error)
	// DiskSerials is the metadata service's serial -> disk ID table.
	DiskSerials func(ctx context.Context) (map[string]string, error)
	// DeviceOverrides is the test seam of topology.JoinOptions.
	DeviceOverrides      map[string]string
	AllowDeviceOverrides bool
}

// InventoryCache keeps an instance's inventory between jobs. Inventory
// returns a cached one when fresh is false and the cache holds a current
// one for instanceID; otherwise it calls fetch and keeps the answer.
type InventoryCache interface {
	Inventory(ctx context.Context, instanceID string, fetch func(context.Context) (*Inventory, error), fresh bool) (*Inventory, error)
}

// Inventory identifies the instance and reads both sides of the disk map.
func (e *Engine) Inventory(ctx context.Context) (*Inventory, error) {
	return e.readInventory(ctx, false)
}

// RefreshInventory reads the instance's inventory anew and keeps it in the
// engine's cache: the daemon renews its warm view with it.
func (e *Engine) RefreshInventory(ctx context.Context) (*Inventory, error) {
	return e.readInventory(ctx, true)
}

// readInventory identifies the instance and reads its inventory through
// the engine's cache when it has one (fresh: never the cached one).
func (e *Engine) readInventory(ctx context.Context, fresh bool) (*Inventory, error) {
	e.defaults()
	id, err := e.Metadata.Identity(ctx)
	if err != nil {
		return nil, err
	}
	cl, err := e.NewCloud(id.RegionID)
	if err != nil {
		return nil, err
	}
	fetch := func(ctx context.Context) (*Inventory, error) { return e.inventory(ctx, id, cl) }
	if e.Inventories != nil {
		return e.Inventories.Inventory(ctx, id.InstanceID, fetch, fresh)
	}
	return fetch(ctx)
}

// inventory lists the instance's disks and, beside that call, reads the
// guest's layout and the metadata service's serials, then joins the two.
func (e *Engine) inventory(ctx context.Context, id imds.Identity, cl Cloud) (*Inventory, error) {
	// The guest's layout is read once DescribeDisks' request is on the
	// wire (or answered, for a Cloud that writes none): read beside it, it
	// took the CPU a small machine needed to send the job's first requests,
	// and it is done long before the answer comes.
	sent := make(chan struct{})
	var once sync.Once
	onSent := func() { once.Do(func() { close(sent) }) }
	local := make(chan localLayout, 1)
	go func() {
		<-sent
		local <- e.readLocal(ctx)
	}()
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { onSent() }}
	disks, err := cl.DescribeDisks(httptrace.WithClientTrace(ctx, trace), id.InstanceID)
	onSent()
	l := <-local
	if err != nil {
		return nil, fmt.Errorf("list the instance's disks: %w", err)
	}
	return e.joinLayout(id, disks, l)
}

// join reads the guest's layout and maps the cloud disks to it.
func (e *Engine) join(ctx context.Context, id imds.Identity, disks []cloud.Disk) (*Inventory, error) {
	return e.joinLayout(id, disks, e.readLocal(ctx))
}

// localLayout is the guest's side of the inventory: its block devices and
// mounts, and the metadata service's serial -> disk ID table.
type localLayout struct {
	skip     bool // no local discovery configured
	topo     *topology.Topology
	err      error
	serials  map[string]string
	warnings []string
}

func (e *Engine) readLocal(ctx context.Context) localLayout {
	if e.Local.Discover == nil {
		return localLayout{skip: true}
	}
	var l localLayout
	l.topo, l.err = e.Local.Discover()
	if l.err != nil {
		return l
	}
	if e.Local.DiskSerials != nil {
		var err error
		if l.serials, err = e.Local.DiskSerials(ctx); err != nil {
			l.warnings = append(l.warnings, "disk serials from the metadata service: "+err.Error())
		}
	}
	return l
}

// joinLayout maps the cloud disks to the guest's layout.
func (e *Engine) joinLayout(id imds.Identity, disks []cloud.Disk, l localLayout) (*Inventory, error) {
	inv := &Inventory{Identity: id, Disks: disks}
	if l.skip {
		return inv, nil
	}
	if l.err != nil {
		// Without the local layout ecssnap cannot see filesystems that
		// span disks; the plan says so rather than failing the job.
		inv.Warnings = append(inv.Warnings, "local disk discovery failed: "+l.err.Error())
		e.Logger.Warn("local disk discovery failed", "error", l.err)
		return inv, nil
	}
	inv.Topology, inv.Serials = l.topo, l.serials
	inv.Warnings = append(inv.Warnings, l.warnings...)
	cds := make([]topology.CloudDisk, len(disks))
	for i, d := range disks {
		cds[i] = topology.CloudDisk{ID: d.ID, Serial: d.Serial, Category: d.Category, Type: d.Type, SizeGiB: d.SizeGiB, MultiAttach: d.MultiAttach}
	}
	m, err := topology.Join(l.topo, cds, topology.JoinOptions{
		MetadataSerials: l.serials, DeviceOverrides: e.Local.DeviceOverrides,
		AllowDeviceOverrides: e.Local.AllowDeviceOverrides, Logger: e.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("map cloud disks to local devices: %w", err)
	}
	inv.Mapping = m
	inv.Warnings = append(inv.Warnings, m.Warnings...)
	inv.Local = localView(l.topo, m)
	return inv, nil
}

// localView turns the topology and the join into what the planner needs:
// each mounted filesystem and the cloud disks below it.
func localView(t *topology.Topology, m *topology.Mapping) *plan.Local {
	l := &plan.Local{Devices: map[string]string{}}
	for _, d := range m.Disks {
		if d.Device != "" && d.Reason == "" {
			l.Devices[d.Disk.ID] = d.Device
		}
	}
	for _, mnt := range t.SuperblockMounts() {
		fs := plan.Filesystem{
			MountPoint: path.Clean(mnt.MountPoint), FSType: mnt.FSType, Source: mnt.Source,
			Dev: mnt.Dev, ReadOnly: mnt.ReadOnly,
		}
		for _, other := range t.Mounts {
			if other.Dev == mnt.Dev {
				fs.Mounts = append(fs.Mounts, path.Clean(other.MountPoint))
			}
		}
		devices, err := t.DisksUnder(mnt)
		if err != nil {
			fs.Err = err.Error()
		}
		for _, dev := range devices {
			if dm, ok := m.ByDevice(dev); ok && dm.Reason == "" {
				fs.Disks = append(fs.Disks, dm.Disk.ID)
			} else {
				fs.LocalOnly = append(fs.LocalOnly, dev)
			}
		}
		l.Filesystems = append(l.Filesystems, fs)
	}
	return l
}
