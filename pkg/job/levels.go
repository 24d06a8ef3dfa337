package job

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/freeze"
)

// ThawReasonHelperGone is the freeze result's thaw reason when the helper
// ended without reporting a thaw (killed, crashed, no answer): the guard
// thawed at an instant nobody reported.
const ThawReasonHelperGone = "helper-gone"

// frozenProof is what a freeze window proves: the filesystems were frozen
// before the first create was sent and stayed frozen at least until
// through. A snapshot whose create call was answered later may have been
// taken after the thaw.
type frozenProof struct {
	through time.Time // zero: nothing after the freeze itself is proven
	early   bool      // the window ended other than by our thaw request
	why     string    // how the window ended, when early
}

// covers reports whether a create answered at t was taken while frozen.
func (p frozenProof) covers(t time.Time) bool {
	return !p.through.IsZero() && !t.IsZero() && !t.After(p.through)
}

// proveFrozen works out, from the thaw report, until when the filesystems
// are proven frozen, on the engine's clock. freezeSent is taken before the
// freeze was asked for, thawSent before the thaw was: the helper's op times
// count from its first FIFREEZE, which came after freezeSent, so
// freezeSent plus the first FITHAW's offset is never later than the real
// thaw. A thaw in answer to our request came after thawSent. Without a
// thaw report (the helper was killed: the guard thawed, when is unknown),
// or when one of our FITHAWs found a filesystem already thawed by someone
// else, nothing after the freeze is proven.
func proveFrozen(freezeSent, thawSent time.Time, rep freeze.Report) frozenProof {
	switch {
	case rep.ThawReason == "":
		// The details (how the helper ended) are in the freeze result.
		return frozenProof{early: true, why: "the freeze helper ended without reporting its thaw (the guard thawed)"}
	case rep.ThawedByOther():
		return frozenProof{early: true, why: "a filesystem was thawed by someone other than the freeze helper"}
	}
	var p frozenProof
	if off, ok := rep.FirstThaw(); ok {
		p.through = freezeSent.Add(off)
	}
	if rep.ThawReason == "request" {
		if thawSent.After(p.through) {
			p.through = thawSent
		}
		return p
	}
	p.early, p.why = true, "the freeze helper thawed early ("+rep.ThawReason+")"
	return p
}

// assignLevels gives each snapshot whose create call was accepted its
// level: level when covered(i) says call i was taken while frozen (nil: no
// freeze is involved), else crash; then every snapshot of a closure gets its
// weakest member's level, since a filesystem spanning disks is only as
// consistent as its least consistent part. It returns the disks lowered to
// crash by the freeze, in plan order.
func (r *run) assignLevels(level Level, covered func(i int) bool) (lowered []string) {
	for i, c := range r.res.Creates {
		if c.ID == "" {
			continue
		}
		l := level
		if covered != nil && !covered(i) && level > LevelCrash {
			l = LevelCrash
			lowered = append(lowered, c.DiskIDs...)
		}
		for _, d := range c.DiskIDs {
			if sr := r.byDisk[d]; sr != nil && sr.Consistency == "" {
				sr.Consistency = l.String()
			}
		}
	}
	if r.res.Plan != nil {
		for _, cl := range r.res.Plan.Closures {
			weakest := LevelApp
			for _, d := range cl.Disks {
				if sr := r.byDisk[d]; sr != nil && sr.Consistency != "" {
					l, _ := ParseLevel(sr.Consistency)
					weakest = min(weakest, l)
				}
			}
			for _, d := range cl.Disks {
				if sr := r.byDisk[d]; sr != nil && sr.Consistency != "" && sr.Consistency != weakest.String() {
					sr.Consistency = weakest.String()
					lowered = append(lowered, d)
				}
			}
		}
	}
	return lowered
}

// achieved is the job's level: the lowest of its snapshots that exist, or
// LevelDefault when none does (the job reached no level).
func (r *run) achieved() Level {
	out := LevelDefault
	for _, s := range r.res.Snapshots {
		if s.Consistency == "" {
			continue
		}
		l, _ := ParseLevel(s.Consistency)
		if out == LevelDefault || l < out {
			out = l
		}
	}
	return out
}

// loweredWhy says why snapshots were lowered to crash by the freeze.
func loweredWhy(p frozenProof, disks []string) string {
	what := "the snapshot of %s was"
	if len(disks) > 1 {
		what = "the snapshots of %s were"
	}
	return fmt.Sprintf("%s; "+what+" not provably taken while the filesystems were frozen", p.why, strings.Join(disks, ", "))
}

// retag corrects the consistency tag of every snapshot whose level is not
// the one its tag says, one TagResources call per level.
func (r *run) retag(ctx context.Context) {
	byLevel := map[string][]string{}
	for _, s := range r.res.Snapshots {
		if s.SnapshotID != "" && s.Consistency != "" && s.Consistency != r.tagOf(s) {
			byLevel[s.Consistency] = append(byLevel[s.Consistency], s.SnapshotID)
		}
	}
	for _, level := range slices.Sorted(maps.Keys(byLevel)) {
		ids := byLevel[level]
		if err := r.cloud.TagSnapshots(ctx, ids, []cloud.Tag{{Key: TagConsistency, Value: level}}); err != nil {
			r.e.Logger.Warn("could not correct the consistency tag", "level", level, "snapshots", ids, "error", err)
			r.res.Warnings = append(r.res.Warnings, fmt.Sprintf("could not correct the tag %s of %s to %s: %v",
				TagConsistency, strings.Join(ids, ", "), level, err))
			continue
		}
		r.noteTag(ids, level)
	}
	r.warnGroupTag()
}

// warnGroupTag says so when the snapshot group's own consistency tag, set
// at create time, is above what its members reached: TagResources cannot
// retag a snapshot group, so only the members carry the corrected tag.
func (r *run) warnGroupTag() {
	if r.res.GroupID == "" || r.groupWarned {
		return
	}
	for _, c := range r.res.Creates {
		if c.Kind != CreateGroup || c.ID == "" {
			continue
		}
		sr := r.byDisk[c.DiskIDs[0]]
		for _, t := range c.Tags {
			if t.Key == TagConsistency && sr != nil && sr.Consistency != "" && t.Value != sr.Consistency {
				r.res.Warnings = append(r.res.Warnings, fmt.Sprintf(
					"snapshot group %s keeps the tag %s=%s it was created with (the API cannot retag groups); its snapshots are tagged %s",
					c.ID, TagConsistency, t.Value, sr.Consistency))
				r.groupWarned = true
			}
		}
	}
}

// noteTag remembers the consistency tag the snapshots now carry.
func (r *run) noteTag(ids []string, level string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tagged == nil {
		r.tagged = map[string]string{}
	}
	for _, id := range ids {
		r.tagged[id] = level
	}
}

// tagOf is the consistency tag s carries as far as this run knows: what it
// set, or else what its create call sent ("" for a group member, whose
// tags a resumed run did not see being set).
func (r *run) tagOf(s SnapshotResult) string {
	r.mu.Lock()
	v, ok := r.tagged[s.SnapshotID]
	r.mu.Unlock()
	if ok {
		return v
	}
	for _, c := range r.res.Creates {
		if c.Kind == CreateDisk && slices.Contains(c.DiskIDs, s.DiskID) {
			for _, t := range c.Tags {
				if t.Key == TagConsistency {
					return t.Value
				}
			}
		}
	}
	return ""
}
