package ecsemu

import (
	"context"
	"errors"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu/dataplane"
)

// The API emulator's side of the data plane (package dataplane), kept to
// this file: with Options.DataPlane set, every scenario disk holds bytes,
// a snapshot captures them at the instant its call is accepted (a group
// at one instant for all members), and its progress follows the bytes it
// copies. Without it nothing here runs and snapshots hold no bytes.

// gib is a GiB in bytes.
const gib = 1 << 30

// addDataPlaneDisks gives every scenario disk an image of its size, and
// installs the disk hooks that keep the bytes in step with the disk
// lifecycle calls.
func (e *Emulator) addDataPlaneDisks() error {
	if e.dp == nil {
		return nil
	}
	e.restore.init()
	e.restore.hooks = e.dataPlaneHooks()
	for _, d := range e.disks {
		if e.dp.HasDisk(d.spec.ID) {
			continue
		}
		if err := e.dp.AddDisk(d.spec.ID, int64(d.spec.SizeGiB)*gib); err != nil {
			return err
		}
	}
	return nil
}

// DataPlane returns the data plane, nil without one.
func (e *Emulator) DataPlane() *dataplane.Plane { return e.dp }

// captureBytes captures the bytes of new snapshots: all of them at one
// instant (a group is one call). A snapshot's duration becomes the time
// its changed bytes take at the scenario's speed. On failure the
// snapshots are dropped and the call fails as the cloud's would, with an
// internal error. Callers hold e.mu; the capture closes the disks' gates
// for well under a millisecond and never waits on guest I/O.
func (e *Emulator) captureBytes(snaps []*snapshotState) *apiError {
	if e.dp == nil {
		return nil
	}
	var members []dataplane.Member
	for _, s := range snaps {
		if e.dp.HasDisk(s.diskID) {
			members = append(members, dataplane.Member{SnapshotID: s.id, DiskID: s.diskID})
		}
	}
	if len(members) == 0 {
		return nil
	}
	captured, err := e.dp.CaptureGroup(members)
	if err != nil {
		e.log.Error("data plane capture failed", "err", err)
		for _, s := range snaps {
			e.removeSnapshot(s.id)
		}
		return errInternal
	}
	byID := map[string]*dataplane.Snapshot{}
	for _, c := range captured {
		byID[c.ID] = c
	}
	for _, s := range snaps {
		if c := byID[s.id]; c != nil {
			s.duration = e.bytesDuration(c.Changed)
			e.log.Info("snapshot bytes captured", "snapshot", s.id, "disk", s.diskID, "changed_bytes", c.Changed, "pause", c.Pause, "duration", s.duration)
		}
	}
	return nil
}

// bytesDuration is how long copying n bytes takes at the scenario's speed.
func (e *Emulator) bytesDuration(n int64) time.Duration {
	secs := float64(n) / (e.sc.Speed.MiBPerSecond * (1 << 20))
	return max(time.Duration(secs*float64(time.Second)), e.sc.Speed.Minimum.D())
}

// dropBytes deletes a snapshot's bytes.
func (e *Emulator) dropBytes(id string) {
	if e.dp == nil {
		return
	}
	if err := e.dp.DeleteSnapshot(id); err != nil && !errors.Is(err, dataplane.ErrNoSnapshot) {
		e.log.Warn("data plane snapshot delete failed", "snapshot", id, "err", err)
	}
}

// groupSnapshots returns a group's member snapshots.
func (e *Emulator) groupSnapshots(g *groupState) []*snapshotState {
	var out []*snapshotState
	for _, id := range g.members {
		if s := e.snapshots[id]; s != nil {
			out = append(out, s)
		}
	}
	return out
}

// dataPlaneHooks act on the bytes when the disk lifecycle calls take
// effect: CreateDisk makes an image (from its snapshot's bytes), AttachDisk
// to the emulated instance makes its loop device appear in the guest view
// under its serial, DetachDisk removes it, ResetDisk(s) rewinds the image,
// DeleteDisk deletes it. Stopping the instance detaches its disks (a
// stopped guest has nothing open; ResetDisk needs it so) and starting it
// attaches them again. Failures are logged: the call was already
// answered, as on the cloud, where the bytes are the provider's business.
func (e *Emulator) dataPlaneHooks() DiskHooks {
	mine := func(instanceID string) bool { return instanceID == e.instance.spec.ID }
	return DiskHooks{
		Created: func(id, serial, snapID string) {
			size := 0
			if d := e.diskByID[id]; d != nil {
				size = d.spec.SizeGiB
			}
			e.bytesNewDisk(id, snapID, size)
			if serial != "" && serial != "-" {
				e.bytesSerial(id, serial)
			}
		},
		Attached: func(id, serial, instanceID string) {
			if mine(instanceID) {
				if serial != "" && serial != "-" {
					e.bytesSerial(id, serial)
				}
				e.bytesAttach(id)
			}
		},
		Detached: func(id, _, _ string) { e.bytesDetach(id) },
		Deleted:  func(id string) { e.bytesDelete(id) },
		Reset:    func(id, snapID string) { e.bytesReset(id, snapID) },
		Stopped: func(instanceID string) {
			for _, d := range e.disks {
				if d.attachedTo() == instanceID {
					e.bytesDetach(d.spec.ID)
				}
			}
		},
		Started: func(instanceID string) {
			if !mine(instanceID) {
				return
			}
			for _, d := range e.disks {
				if d.attachedTo() == instanceID {
					e.bytesAttach(d.spec.ID)
				}
			}
		},
	}
}

// bytesSerial names a disk's serial in the data plane's guest view.
func (e *Emulator) bytesSerial(diskID, serial string) {
	if err := e.dp.SetSerial(diskID, serial); err != nil {
		e.log.Error("data plane guest view", "disk", diskID, "err", err)
	}
}

// The helpers below act on one disk's bytes, no-ops without a data plane.
// Callers hold e.mu.

// bytesNewDisk gives a new disk its image: the bytes of snapID, or zeros
// of sizeGiB when snapID is "".
func (e *Emulator) bytesNewDisk(diskID, snapID string, sizeGiB int) *apiError {
	if e.dp == nil {
		return nil
	}
	var err error
	if snapID != "" {
		err = e.dp.CreateDisk(context.Background(), diskID, snapID)
		if errors.Is(err, dataplane.ErrNoSnapshot) {
			// A snapshot from the scenario, older than the bytes.
			e.log.Warn("data plane: snapshot has no bytes, the new disk reads zeros", "disk", diskID, "snapshot", snapID)
			snapID = ""
		}
	}
	if snapID == "" {
		err = e.dp.AddDisk(diskID, int64(sizeGiB)*gib)
	}
	return e.bytesErr("new disk", diskID, err)
}

// bytesAttach makes a disk's loop device appear to the guest.
func (e *Emulator) bytesAttach(diskID string) *apiError {
	if e.dp == nil || !e.dp.HasDisk(diskID) {
		return nil
	}
	_, err := e.dp.Attach(diskID)
	return e.bytesErr("attach", diskID, err)
}

// bytesDetach removes a disk's loop device.
func (e *Emulator) bytesDetach(diskID string) *apiError {
	if e.dp == nil || !e.dp.HasDisk(diskID) {
		return nil
	}
	return e.bytesErr("detach", diskID, e.dp.Detach(diskID))
}

// bytesReset rolls a (detached) disk back to snapID.
func (e *Emulator) bytesReset(diskID, snapID string) *apiError {
	if e.dp == nil || !e.dp.HasDisk(diskID) {
		return nil
	}
	return e.bytesErr("reset", diskID, e.dp.ResetDisk(context.Background(), diskID, snapID))
}

// bytesDelete deletes a disk's image.
func (e *Emulator) bytesDelete(diskID string) *apiError {
	if e.dp == nil || !e.dp.HasDisk(diskID) {
		return nil
	}
	if err := e.dp.Detach(diskID); err != nil {
		return e.bytesErr("delete", diskID, err)
	}
	return e.bytesErr("delete", diskID, e.dp.DeleteDisk(diskID))
}

func (e *Emulator) bytesErr(op, diskID string, err error) *apiError {
	if err == nil {
		return nil
	}
	e.log.Error("data plane "+op+" failed", "disk", diskID, "err", err)
	return errInternal
}
