package ecsemu

import (
	"math"
	"time"
)

// instanceState is an emulated instance.
type instanceState struct {
	spec    Instance
	status  string
	created time.Time
	tags    map[string]string
	seq     int64 // scenario order, for listing and paging
}

// diskState is an emulated disk.
type diskState struct {
	spec     Disk
	instance string // the owning instance's ID
	status   string
	tags     map[string]string
	device   string
	seq      int64
	created  time.Time
}

// attachedTo returns the instance the disk is attached to, or "".
func (d *diskState) attachedTo() string {
	if d.spec.Detached {
		return ""
	}
	return d.instance
}

// snapshotState is an emulated snapshot. Its status and progress are
// computed from the clock on every read, so a virtual clock moves them.
type snapshotState struct {
	id, diskID        string
	name, description string
	tags              map[string]string
	created           time.Time
	modified          time.Time
	duration          time.Duration // creation to accomplished
	failed            bool
	typ               string
	retentionDays     int
	groupID           string
	createdDisk       bool
	createdImage      bool
	seq               int64
	sourceSizeGiB     int
	sourceType        string // system|data
	sourceCategory    string
	instanceID        string // the source disk's instance when taken
}

// snapshotProgress is a snapshot's state at one instant.
type snapshotProgress struct {
	status     string
	percent    int
	remainSecs int
}

func (s *snapshotState) progressAt(now time.Time) snapshotProgress {
	if s.failed {
		return snapshotProgress{status: snapFailed}
	}
	elapsed := max(now.Sub(s.created), 0)
	if elapsed >= s.duration {
		return snapshotProgress{status: snapAccomplished, percent: 100}
	}
	pct := int(elapsed * 100 / s.duration)
	remain := int(math.Ceil((s.duration - elapsed).Seconds()))
	return snapshotProgress{status: snapProgressing, percent: min(pct, 99), remainSecs: remain}
}

// available reports the DescribeSnapshots Available flag: ESSD-family
// snapshots are usable at once (instant access is on by default); others
// once accomplished.
func (s *snapshotState) available(now time.Time) bool {
	st := s.progressAt(now).status
	return st == snapAccomplished || (st == snapProgressing && isESSDFamily(s.sourceCategory))
}

// expiresAt is when RetentionDays releases the snapshot (zero if never).
func (s *snapshotState) expiresAt() time.Time {
	if s.retentionDays <= 0 {
		return time.Time{}
	}
	return s.created.Add(time.Duration(s.retentionDays) * 24 * time.Hour)
}

// groupState is an emulated snapshot-consistent group.
type groupState struct {
	id, name, description string
	instanceID            string
	tags                  map[string]string
	created               time.Time
	members               []string // snapshot IDs
	seq                   int64
}

// snapshotDuration is how long a snapshot of a disk of sizeGiB takes.
func (e *Emulator) snapshotDuration(sizeGiB int) time.Duration {
	secs := float64(sizeGiB) * 1024 / e.sc.Speed.MiBPerSecond
	d := time.Duration(secs * float64(time.Second))
	return max(d, e.sc.Speed.Minimum.D())
}

// refresh applies what time alone changes: snapshots past their retention
// are released (and leave their groups; an empty group goes too).
// Callers hold e.mu.
func (e *Emulator) refresh(now time.Time) {
	e.settle(now)
	for id, s := range e.snapshots {
		if exp := s.expiresAt(); !exp.IsZero() && !now.Before(exp) {
			e.log.Info("snapshot released by retention", "snapshot", id, "retention_days", s.retentionDays)
			e.removeSnapshot(id)
		}
	}
}

// removeSnapshot deletes a snapshot and its group membership.
func (e *Emulator) removeSnapshot(id string) {
	s, ok := e.snapshots[id]
	if !ok {
		return
	}
	delete(e.snapshots, id)
	e.dropBytes(id)
	g, ok := e.groups[s.groupID]
	if !ok {
		return
	}
	kept := g.members[:0]
	for _, m := range g.members {
		if m != id {
			kept = append(kept, m)
		}
	}
	g.members = kept
	if len(g.members) == 0 {
		delete(e.groups, g.id)
	}
}

// groupStatus derives a group's status from its members: failed if any
// failed, accomplished when all are, else progressing.
func (e *Emulator) groupStatus(g *groupState, now time.Time) string {
	all := true
	for _, id := range g.members {
		s, ok := e.snapshots[id]
		if !ok {
			continue
		}
		switch s.progressAt(now).status {
		case snapFailed:
			return snapFailed
		case snapProgressing:
			all = false
		}
	}
	if all {
		return snapAccomplished
	}
	return snapProgressing
}

// inProgress counts a disk's snapshots still being created.
func (e *Emulator) inProgress(diskID string, now time.Time) int {
	n := 0
	for _, s := range e.snapshots {
		if s.diskID == diskID && s.progressAt(now).status == snapProgressing {
			n++
		}
	}
	return n
}

// manualCount counts a disk's manual (user) snapshots, which the quota caps.
func (e *Emulator) manualCount(diskID string) int {
	n := 0
	for _, s := range e.snapshots {
		if s.diskID == diskID && s.typ == snapTypeUser {
			n++
		}
	}
	return n
}

// nextSeq numbers resources in creation order for stable listing and paging.
func (e *Emulator) nextSeq() int64 {
	e.seq++
	return e.seq
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// newID returns prefix + 20 random lower-case letters and digits, the
// shape of real IDs ("s-bp1...").
func (e *Emulator) newID(prefix string) string {
	b := make([]byte, 20)
	for i := range b {
		b[i] = idAlphabet[e.rng.IntN(len(idAlphabet))]
	}
	return prefix + string(b)
}

// newRequestID returns an upper-case UUID-shaped request ID.
func (e *Emulator) newRequestID() string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 36)
	for i := range b {
		switch i {
		case 8, 13, 18, 23:
			b[i] = '-'
		default:
			b[i] = hex[e.rng.IntN(16)]
		}
	}
	return string(b)
}
