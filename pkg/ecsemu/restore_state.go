package ecsemu

import (
	"fmt"
	"slices"
	"time"
)

// Restore times the asynchronous steps of the restore actions and bounds
// the disks per instance. Zero values take the defaults noted per field;
// the real durations vary and are not documented (DetachDisk: "about one
// minute"), so scenarios for tests set them short.
type Restore struct {
	// DiskCreate: Creating -> Available (default 5s).
	DiskCreate Duration `yaml:"disk_create,omitempty" json:"disk_create,omitempty"`
	// DiskAttach: Attaching -> In_use (default 3s).
	DiskAttach Duration `yaml:"disk_attach,omitempty" json:"disk_attach,omitempty"`
	// DiskDetach: Detaching -> Available (default 60s, as documented).
	DiskDetach Duration `yaml:"disk_detach,omitempty" json:"disk_detach,omitempty"`
	// DiskReset: ReIniting -> the status before the reset (default 5s).
	// Whether a reset shows as ReIniting is unconfirmed.
	DiskReset Duration `yaml:"disk_reset,omitempty" json:"disk_reset,omitempty"`
	// InstanceStop: Stopping -> Stopped (default 10s).
	InstanceStop Duration `yaml:"instance_stop,omitempty" json:"instance_stop,omitempty"`
	// InstanceStart: Starting -> Running (default 10s).
	InstanceStart Duration `yaml:"instance_start,omitempty" json:"instance_start,omitempty"`
	// ImageCreate: Creating -> Available (default 30s).
	ImageCreate Duration `yaml:"image_create,omitempty" json:"image_create,omitempty"`
	// DisksPerInstance caps the disks attached to one instance, system disk
	// included (default 17: one system and 16 data disks); AttachDisk beyond
	// it fails with InstanceDiskLimitExceeded.
	DisksPerInstance int `yaml:"disks_per_instance,omitempty" json:"disks_per_instance,omitempty"`
}

func orDefault(d Duration, def time.Duration) time.Duration {
	if d.D() > 0 {
		return d.D()
	}
	return def
}

func (r Restore) diskCreate() time.Duration    { return orDefault(r.DiskCreate, 5*time.Second) }
func (r Restore) diskAttach() time.Duration    { return orDefault(r.DiskAttach, 3*time.Second) }
func (r Restore) diskDetach() time.Duration    { return orDefault(r.DiskDetach, time.Minute) }
func (r Restore) diskReset() time.Duration     { return orDefault(r.DiskReset, 5*time.Second) }
func (r Restore) instanceStop() time.Duration  { return orDefault(r.InstanceStop, 10*time.Second) }
func (r Restore) instanceStart() time.Duration { return orDefault(r.InstanceStart, 10*time.Second) }
func (r Restore) imageCreate() time.Duration   { return orDefault(r.ImageCreate, 30*time.Second) }
func (r Restore) disksPerInstance() int {
	if r.DisksPerInstance > 0 {
		return r.DisksPerInstance
	}
	return 17
}

// restoreState is what the restore actions add to the emulated cloud. Its
// maps are made on first use, so New needs no change for it.
type restoreState struct {
	// pending are the asynchronous transitions in flight, by resource ID:
	// a status that ends at a time of the cloud clock.
	pending map[string]transition
	// source is each created disk's SourceSnapshotId (never changes).
	source map[string]string
	// resets lists, per disk, the snapshots it was reset from, in order.
	resets map[string][]string
	// stoppedMode is the StoppedMode of each instance's last stop.
	stoppedMode map[string]string
	images      map[string]*imageState
	hooks       DiskHooks
}

// transition is one resource's asynchronous step: its status becomes to at
// the instant at, and then runs (with e.mu held).
type transition struct {
	to   string
	at   time.Time
	then func()
}

func (r *restoreState) init() {
	if r.pending == nil {
		r.pending = map[string]transition{}
		r.source = map[string]string{}
		r.resets = map[string][]string{}
		r.stoppedMode = map[string]string{}
		r.images = map[string]*imageState{}
	}
}

// DiskHooks are told when a disk's bytes or visibility change, after the
// change is committed: the seam a data plane (or a test standing in for
// one) uses to create a disk's bytes from its snapshot, make it appear in
// the guest by serial, and rewind it. They run with the emulator's lock
// held: they must not call the emulator.
type DiskHooks struct {
	Created  func(diskID, serial, snapshotID string) // Creating -> Available
	Attached func(diskID, serial, instanceID string) // Attaching -> In_use
	Detached func(diskID, serial, instanceID string) // Detaching -> Available
	Deleted  func(diskID string)
	Reset    func(diskID, snapshotID string) // ResetDisk(s) accepted
	// The instance's power: a stopped guest has its filesystems unmounted
	// and its disks closed, a started one opens them again.
	Stopped func(instanceID string) // Stopping -> Stopped
	Started func(instanceID string) // Starting -> Running
}

// SetDiskHooks installs hooks (replacing earlier ones).
func (e *Emulator) SetDiskHooks(h DiskHooks) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.restore.init()
	e.restore.hooks = h
}

// schedule sets a resource's asynchronous step. Callers hold e.mu.
func (e *Emulator) schedule(id, to string, at time.Time, then func()) {
	e.restore.init()
	e.restore.pending[id] = transition{to: to, at: at, then: then}
}

// busy reports whether a resource is in an asynchronous step.
func (e *Emulator) busy(id string) bool {
	_, ok := e.restore.pending[id]
	return ok
}

// settle applies the transitions that are due at now, oldest first, so a
// reader always sees a state the cloud could have shown. Callers hold e.mu.
func (e *Emulator) settle(now time.Time) {
	if len(e.restore.pending) == 0 {
		return
	}
	ids := make([]string, 0, len(e.restore.pending))
	for id, t := range e.restore.pending {
		if !now.Before(t.at) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int { return e.restore.pending[a].at.Compare(e.restore.pending[b].at) })
	for _, id := range ids {
		t := e.restore.pending[id]
		delete(e.restore.pending, id)
		switch {
		case e.diskByID[id] != nil:
			e.diskByID[id].status = t.to
		case e.instanceByID[id] != nil:
			e.instanceByID[id].status = t.to
		case e.restore.images[id] != nil:
			e.restore.images[id].status = t.to
		}
		if t.then != nil {
			t.then()
		}
	}
}

// RestoreView is what the restore actions did to one disk, for tests.
type RestoreView struct {
	DiskID           string   `json:"disk_id"`
	Status           string   `json:"status"`
	InstanceID       string   `json:"instance_id"` // attached to, or ""
	SourceSnapshotID string   `json:"source_snapshot_id,omitempty"`
	ResetFrom        []string `json:"reset_from,omitempty"` // snapshots, in order
}

// DiskRestore returns what the restore actions did to a disk at the current
// cloud time; ok is false when the disk does not exist (deleted).
func (e *Emulator) DiskRestore(id string) (RestoreView, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.refresh(e.clock.Now())
	d, ok := e.diskByID[id]
	if !ok {
		return RestoreView{}, false
	}
	return RestoreView{
		DiskID: id, Status: d.status, InstanceID: d.attachedTo(),
		SourceSnapshotID: e.restore.source[id], ResetFrom: slices.Clone(e.restore.resets[id]),
	}, true
}

// StoppedMode returns the StoppedMode of the instance's last StopInstance
// ("" if it was never stopped through the API).
func (e *Emulator) StoppedMode(instanceID string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.restore.stoppedMode[instanceID]
}

// InstanceStatus returns an instance's status at the current cloud time.
func (e *Emulator) InstanceStatus(id string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.refresh(e.clock.Now())
	in, ok := e.instanceByID[id]
	if !ok {
		return "", fmt.Errorf("instance %q does not exist", id)
	}
	return in.status, nil
}

// diskIDs lists every disk's ID in scenario and creation order.
func (e *Emulator) diskIDs() []string {
	out := make([]string, 0, len(e.disks))
	for _, d := range e.disks {
		out = append(out, d.spec.ID)
	}
	return out
}

// DiskIDs returns the IDs of every disk that exists now, created ones
// included: a test's "no disk left behind" check.
func (e *Emulator) DiskIDs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.diskIDs()
}
