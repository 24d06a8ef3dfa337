package ecsemu

import (
	"maps"
	"slices"
	"time"
)

// StateDump is a JSON-serialisable picture of the emulated cloud at one
// instant of cloud time.
type StateDump struct {
	Time     time.Time    `json:"time"`
	Region   string       `json:"region"`
	Instance InstanceView `json:"instance"`
	// Instances are the scenario's further instances (a fleet).
	Instances []InstanceView `json:"instances,omitempty"`
	Disks     []DiskView     `json:"disks"`
	Snapshots []SnapshotView `json:"snapshots"`
	Groups    []GroupView    `json:"groups"`
}

// InstanceView is the instance's current state.
type InstanceView struct {
	ID           string            `json:"id"`
	Status       string            `json:"status"`
	ZoneID       string            `json:"zone_id"`
	Type         string            `json:"type"`
	NeverStarted bool              `json:"never_started,omitempty"`
	LockReasons  []string          `json:"lock_reasons,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
}

// DiskView is a disk's current state.
type DiskView struct {
	ID          string            `json:"id"`
	Serial      string            `json:"serial"`
	Name        string            `json:"name"`
	Category    string            `json:"category"`
	Type        string            `json:"type"`
	SizeGiB     int               `json:"size_gib"`
	Status      string            `json:"status"`
	ZoneID      string            `json:"zone_id"`
	MultiAttach bool              `json:"multi_attach,omitempty"`
	InstanceID  string            `json:"instance_id"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// SnapshotView is a snapshot's current state.
type SnapshotView struct {
	ID            string            `json:"id"`
	DiskID        string            `json:"disk_id"`
	GroupID       string            `json:"group_id,omitempty"`
	Name          string            `json:"name,omitempty"`
	Description   string            `json:"description,omitempty"`
	Type          string            `json:"type"`
	Status        string            `json:"status"`
	Progress      int               `json:"progress"`
	RemainTime    int               `json:"remain_time"` // seconds
	Available     bool              `json:"available"`
	CreationTime  time.Time         `json:"creation_time"`
	RetentionDays int               `json:"retention_days,omitempty"`
	SourceSizeGiB int               `json:"source_size_gib"`
	Tags          map[string]string `json:"tags,omitempty"`
}

// GroupView is a snapshot-consistent group's current state.
type GroupView struct {
	ID           string            `json:"id"`
	Name         string            `json:"name,omitempty"`
	InstanceID   string            `json:"instance_id"`
	Status       string            `json:"status"`
	CreationTime time.Time         `json:"creation_time"`
	SnapshotIDs  []string          `json:"snapshot_ids"`
	Tags         map[string]string `json:"tags,omitempty"`
}

// State returns the current state, with retention applied at the
// emulator's current time.
func (e *Emulator) State() StateDump {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	e.refresh(now)
	st := StateDump{
		Time:      now,
		Region:    e.sc.Region,
		Instance:  e.instance.view(),
		Disks:     []DiskView{},
		Snapshots: e.snapshotViews(now),
		Groups:    []GroupView{},
	}
	for _, in := range e.instances[1:] {
		st.Instances = append(st.Instances, in.view())
	}
	for _, d := range e.disks {
		st.Disks = append(st.Disks, DiskView{
			ID: d.spec.ID, Serial: d.spec.Serial, Name: d.spec.Name, Category: d.spec.Category, Type: d.spec.Type,
			SizeGiB: d.spec.SizeGiB, Status: d.status, ZoneID: d.spec.ZoneID, MultiAttach: d.spec.MultiAttach,
			InstanceID: d.attachedTo(), Tags: maps.Clone(d.tags),
		})
	}
	groups := slices.Collect(maps.Values(e.groups))
	slices.SortFunc(groups, func(a, b *groupState) int { return cmpDesc(b.seq, a.seq) })
	for _, g := range groups {
		st.Groups = append(st.Groups, GroupView{
			ID: g.id, Name: g.name, InstanceID: g.instanceID, Status: e.groupStatus(g, now),
			CreationTime: g.created, SnapshotIDs: slices.Clone(g.members), Tags: maps.Clone(g.tags),
		})
	}
	return st
}

func (in *instanceState) view() InstanceView {
	return InstanceView{
		ID: in.spec.ID, Status: in.status, ZoneID: in.spec.ZoneID, Type: in.spec.Type,
		NeverStarted: in.spec.NeverStarted, LockReasons: slices.Clone(in.spec.LockReasons), Tags: maps.Clone(in.tags),
	}
}

// Snapshots returns every snapshot's current state, oldest first.
func (e *Emulator) Snapshots() []SnapshotView {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	e.refresh(now)
	return e.snapshotViews(now)
}

func (e *Emulator) snapshotViews(now time.Time) []SnapshotView {
	list := e.sortedSnapshots()
	slices.Reverse(list)
	out := make([]SnapshotView, 0, len(list))
	for _, s := range list {
		pr := s.progressAt(now)
		out = append(out, SnapshotView{
			ID: s.id, DiskID: s.diskID, GroupID: s.groupID, Name: s.name, Description: s.description,
			Type: s.typ, Status: pr.status, Progress: pr.percent, RemainTime: pr.remainSecs,
			Available: s.available(now), CreationTime: s.created, RetentionDays: s.retentionDays,
			SourceSizeGiB: s.sourceSizeGiB, Tags: maps.Clone(s.tags),
		})
	}
	return out
}
