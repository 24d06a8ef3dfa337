package retention

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
)

// Tag keys ecssnap puts on its snapshots and groups (pkg/job/naming.go),
// repeated so that retention does not depend on the job engine.
const (
	tagManaged = "ecssnap:managed"
	tagJob     = "ecssnap:job"
	tagTrigger = "ecssnap:trigger"
	// TagImportant, set to "true" on any snapshot or group of a job, puts
	// the whole job under Config.Important.
	TagImportant = "ecssnap:important"
	tagTrue      = "true"
)

// managedTag selects ecssnap's snapshots and groups in list calls.
var managedTag = cloud.Tag{Key: tagManaged, Value: tagTrue}

// job is the unit of retention: the snapshots and groups that share an
// ecssnap:job tag, plus the members of those groups.
type job struct {
	key       string // the ecssnap:job value, or "group:ID"/"snapshot:ID" when untagged
	id        string // the ecssnap:job value as found ("" when untagged)
	trigger   string
	triggers  map[string]bool // distinct non-empty trigger values seen
	created   time.Time       // earliest creation time of its items
	groups    []cloud.SnapshotGroup
	snaps     []cloud.Snapshot  // snapshots outside any group of the job
	members   map[string]string // member snapshot ID -> disk ID, of every group
	important bool
	busy      bool   // something is still progressing (or in an unknown state)
	usable    bool   // not busy, and at least one item accomplished
	held      string // why the job must never be deleted; "" when it may be
}

func isManaged(tags map[string]string) bool { return tags[tagManaged] == tagTrue }

// collectJobs sorts ecssnap's snapshots and groups into jobs, oldest first.
// Only items tagged ecssnap:managed=true count, except that a member of a
// managed group belongs to the group's job whatever its own tags: deleting
// the group deletes it anyway.
func collectJobs(snaps []cloud.Snapshot, groups []cloud.SnapshotGroup) []*job {
	byKey := map[string]*job{}
	get := func(key, id string) *job {
		j := byKey[key]
		if j == nil {
			j = &job{key: key, id: id, triggers: map[string]bool{}, members: map[string]string{}}
			byKey[key] = j
		}
		return j
	}
	memberOf := map[string]*job{}
	seenGroup := map[string]bool{}
	for _, g := range groups {
		if !isManaged(g.Tags) || seenGroup[g.ID] {
			continue
		}
		seenGroup[g.ID] = true
		j := get(keyOf(g.Tags, "group:"+g.ID))
		j.groups = append(j.groups, g)
		j.note(g.Tags, g.Created, g.Status)
		for _, m := range g.Members {
			j.members[m.SnapshotID] = m.DiskID
			memberOf[m.SnapshotID] = j
		}
	}
	seenSnap := map[string]bool{}
	for _, s := range snaps {
		if seenSnap[s.ID] {
			continue
		}
		if j := memberOf[s.ID]; j != nil {
			seenSnap[s.ID] = true
			if id := s.Tags[tagJob]; id != "" && id != j.id {
				j.held = "a group member is tagged with another job (" + id + ")"
			}
			j.note(s.Tags, s.Created, s.Status)
			continue
		}
		if !isManaged(s.Tags) {
			continue
		}
		seenSnap[s.ID] = true
		j := get(keyOf(s.Tags, "snapshot:"+s.ID))
		j.snaps = append(j.snaps, s)
		j.note(s.Tags, s.Created, s.Status)
	}
	jobs := make([]*job, 0, len(byKey))
	for _, j := range byKey {
		j.settle()
		jobs = append(jobs, j)
	}
	slices.SortFunc(jobs, func(a, b *job) int {
		return cmp.Or(a.created.Compare(b.created), cmp.Compare(a.key, b.key))
	})
	return jobs
}

// keyOf returns the job key and ID of an item's tags.
func keyOf(tags map[string]string, standIn string) (key, id string) {
	if id := tags[tagJob]; id != "" {
		return "job:" + id, id
	}
	return standIn, ""
}

// note folds one item's tags, creation time and status into the job.
func (j *job) note(tags map[string]string, created time.Time, status string) {
	if t := tags[tagTrigger]; t != "" {
		j.triggers[t] = true
	}
	if tags[TagImportant] == tagTrue {
		j.important = true
	}
	if !created.IsZero() && (j.created.IsZero() || created.Before(j.created)) {
		j.created = created
	}
	switch status {
	case cloud.StatusAccomplished:
		j.usable = true
	case cloud.StatusFailed:
	default:
		// Progressing, or a status this code does not know: keep it.
		j.busy = true
	}
}

// settle derives the job's trigger and whether it may be deleted at all.
func (j *job) settle() {
	j.usable = j.usable && !j.busy
	switch {
	case len(j.triggers) > 1:
		j.held = "its snapshots disagree on " + tagTrigger
	case j.created.IsZero():
		j.held = "no creation time"
	}
	if len(j.triggers) > 0 {
		j.trigger = slices.Min(slices.Collect(maps.Keys(j.triggers)))
	}
}

// deletable reports whether any policy may delete the job.
func (j *job) deletable() bool { return j.held == "" && !j.busy }

// snapshotsOn returns the IDs of the job's snapshots of one disk, members
// of its groups included.
func (j *job) snapshotsOn(diskID string) []string {
	var ids []string
	for _, s := range j.snaps {
		if s.DiskID == diskID {
			ids = append(ids, s.ID)
		}
	}
	for id, d := range j.members {
		if d == diskID {
			ids = append(ids, id)
		}
	}
	return ids
}

// deletions are the calls that delete the job: one per group (which takes
// its members along), then one per snapshot outside the groups.
func (j *job) deletions(reason string) []Deletion {
	var out []Deletion
	at := func(t time.Time) time.Time {
		if t.IsZero() {
			return j.created
		}
		return t
	}
	groups := slices.SortedFunc(slices.Values(j.groups), func(a, b cloud.SnapshotGroup) int { return cmp.Compare(a.ID, b.ID) })
	for _, g := range groups {
		out = append(out, Deletion{Kind: KindGroup, ID: g.ID, Job: j.id, Trigger: j.trigger, Created: at(g.Created), Reason: reason})
	}
	snaps := slices.SortedFunc(slices.Values(j.snaps), func(a, b cloud.Snapshot) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	for _, s := range snaps {
		out = append(out, Deletion{Kind: KindSnapshot, ID: s.ID, Job: j.id, Trigger: j.trigger, Created: at(s.Created), Reason: reason})
	}
	return out
}
