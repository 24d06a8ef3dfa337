package consistency

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/pkg/topology"
)

// A trial's clone is made as a user restores: CreateDisk from each
// snapshot and AttachDisk to the instance, through the SDK against the
// emulator, whose data plane copies the snapshot's bytes and shows the
// new disk to the guest under its serial; the device is found by that
// serial in the guest view, as ecssnap mount finds it. Cleaning up is
// DetachDisk, DeleteDisk and DeleteSnapshot through the API as well.

// pollEvery is how often the asynchronous steps are polled: the
// experiment's emulators take restoreStep for each.
const (
	pollEvery   = 2 * time.Millisecond
	restoreStep = time.Millisecond
	stepTimeout = time.Minute
)

// clone is one disk made from a snapshot.
type clone struct {
	diskID string
	dev    string // the kernel's device, e.g. /dev/loop7
}

// cloneDisks waits for the snapshots, makes a disk of each, attaches it
// and returns the clones in snapshot order. The clones made before an
// error are returned too, for the caller to remove.
func (e *env) cloneDisks(ctx context.Context, ee *emuEnv, snaps []string) ([]clone, error) {
	c, err := ecsClient(ee)
	if err != nil {
		return nil, err
	}
	if err := waitSnapshots(ctx, c, ee, snaps); err != nil {
		return nil, err
	}
	var clones []clone
	for _, sid := range snaps {
		req := ecs.CreateCreateDiskRequest()
		req.RegionId = ee.sc.Region
		req.ZoneId = ee.sc.Instance.ZoneID
		req.SnapshotId = sid
		// PL0 ESSD takes a disk of the source's size (1 GiB) whatever the
		// source's category.
		req.DiskCategory = "cloud_essd"
		req.PerformanceLevel = "PL0"
		req.DiskName = "consistency-clone"
		resp, err := c.CreateDisk(req)
		if err != nil {
			return clones, fmt.Errorf("CreateDisk from %s: %w", sid, err)
		}
		clones = append(clones, clone{diskID: resp.DiskId})
	}
	// Each step is asked for every disk, then waited for: the disks
	// progress together, as a restore's do.
	for _, cl := range clones {
		if _, err := waitDisk(ctx, c, ee, cl.diskID, "Available"); err != nil {
			return clones, err
		}
	}
	for _, cl := range clones {
		req := ecs.CreateAttachDiskRequest()
		req.InstanceId, req.DiskId = ee.sc.Instance.ID, cl.diskID
		if _, err := c.AttachDisk(req); err != nil {
			return clones, fmt.Errorf("AttachDisk %s: %w", cl.diskID, err)
		}
	}
	for i := range clones {
		d, err := waitDisk(ctx, c, ee, clones[i].diskID, "In_use")
		if err != nil {
			return clones, err
		}
		if clones[i].dev, err = deviceBySerial(filepath.Join(e.dir, "guest"), d.SerialNumber); err != nil {
			return clones, fmt.Errorf("disk %s: %w", clones[i].diskID, err)
		}
	}
	return clones, nil
}

// removeClones detaches and deletes the clones, then deletes the
// snapshots (Force: they made disks).
func (e *env) removeClones(ctx context.Context, ee *emuEnv, clones []clone, snaps []string) error {
	c, err := ecsClient(ee)
	if err != nil {
		return err
	}
	var errs []error
	var gone []clone // detached or being detached
	for _, cl := range clones {
		d, err := describeDisk(c, ee, cl.diskID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if d.Status == "In_use" {
			req := ecs.CreateDetachDiskRequest()
			req.InstanceId, req.DiskId = ee.sc.Instance.ID, cl.diskID
			if _, err := c.DetachDisk(req); err != nil {
				errs = append(errs, fmt.Errorf("DetachDisk %s: %w", cl.diskID, err))
				continue
			}
		}
		gone = append(gone, cl)
	}
	for _, cl := range gone {
		if _, err := waitDisk(ctx, c, ee, cl.diskID, "Available"); err != nil {
			errs = append(errs, err)
			continue
		}
		req := ecs.CreateDeleteDiskRequest()
		req.DiskId = cl.diskID
		if _, err := c.DeleteDisk(req); err != nil {
			errs = append(errs, fmt.Errorf("DeleteDisk %s: %w", cl.diskID, err))
		}
	}
	for _, sid := range snaps {
		req := ecs.CreateDeleteSnapshotRequest()
		req.SnapshotId = sid
		req.Force = "true"
		if _, err := c.DeleteSnapshot(req); err != nil {
			errs = append(errs, fmt.Errorf("DeleteSnapshot %s: %w", sid, err))
		}
	}
	return errors.Join(errs...)
}

// waitSnapshots waits until every snapshot is accomplished (CreateDisk
// takes no other).
func waitSnapshots(ctx context.Context, c *ecs.Client, ee *emuEnv, snaps []string) error {
	ids := `["` + strings.Join(snaps, `","`) + `"]`
	deadline := time.Now().Add(stepTimeout)
	for {
		req := ecs.CreateDescribeSnapshotsRequest()
		req.RegionId = ee.sc.Region
		req.SnapshotIds = ids
		req.PageSize = "100"
		resp, err := c.DescribeSnapshots(req)
		if err != nil {
			return fmt.Errorf("DescribeSnapshots: %w", err)
		}
		done := 0
		for _, s := range resp.Snapshots.Snapshot {
			switch s.Status {
			case "accomplished":
				done++
			case "failed":
				return fmt.Errorf("snapshot %s failed", s.SnapshotId)
			}
		}
		if done == len(snaps) {
			return nil
		}
		if len(resp.Snapshots.Snapshot) < len(snaps) {
			return fmt.Errorf("DescribeSnapshots knows %d of the %d snapshots", len(resp.Snapshots.Snapshot), len(snaps))
		}
		if err := sleepUntil(ctx, deadline, "the snapshots to finish"); err != nil {
			return err
		}
	}
}

// waitDisk waits until disk id has status want and returns it.
func waitDisk(ctx context.Context, c *ecs.Client, ee *emuEnv, id, want string) (ecs.Disk, error) {
	deadline := time.Now().Add(stepTimeout)
	for {
		d, err := describeDisk(c, ee, id)
		if err != nil {
			return d, err
		}
		if d.Status == want {
			return d, nil
		}
		if err := sleepUntil(ctx, deadline, "disk "+id+" to be "+want+" (it is "+d.Status+")"); err != nil {
			return d, err
		}
	}
}

func describeDisk(c *ecs.Client, ee *emuEnv, id string) (ecs.Disk, error) {
	req := ecs.CreateDescribeDisksRequest()
	req.RegionId = ee.sc.Region
	req.DiskIds = `["` + id + `"]`
	resp, err := c.DescribeDisks(req)
	if err != nil {
		return ecs.Disk{}, fmt.Errorf("DescribeDisks %s: %w", id, err)
	}
	if len(resp.Disks.Disk) != 1 {
		return ecs.Disk{}, fmt.Errorf("DescribeDisks: no disk %s", id)
	}
	return resp.Disks.Disk[0], nil
}

func sleepUntil(ctx context.Context, deadline time.Time, what string) error {
	if time.Now().After(deadline) {
		return fmt.Errorf("waited %s for %s", stepTimeout, what)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(pollEvery):
		return nil
	}
}

// deviceBySerial finds the disk with serial in the guest view at root and
// returns the kernel's device behind it (the view names it vdX; its
// device number leads to the loop device).
func deviceBySerial(root, serial string) (string, error) {
	topo, err := topology.New(root).Discover()
	if err != nil {
		return "", err
	}
	for _, d := range topo.Disks() {
		if serial == "" || !strings.EqualFold(d.Serial, serial) {
			continue
		}
		target, err := os.Readlink(filepath.Join("/sys/dev/block", d.Dev))
		if err != nil {
			return "", fmt.Errorf("the guest's %s (serial %s): %w", d.Name, serial, err)
		}
		return "/dev/" + filepath.Base(target), nil
	}
	return "", fmt.Errorf("no disk with serial %q in the guest view", serial)
}
