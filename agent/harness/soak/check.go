package soak

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/store"
)

// findDuplicates lists every (job, disk) the cloud holds more than one
// snapshot for. A group member counts for its group's job (members carry no
// tags of their own unless the scenario says so). However often a job was
// interrupted and resumed, each of its disks must be captured at most once.
func findDuplicates(st ecsemu.StateDump) []string {
	groupJob := map[string]string{}
	for _, g := range st.Groups {
		groupJob[g.ID] = g.Tags[job.TagJob]
	}
	type key struct{ job, disk string }
	seen := map[key][]string{}
	for _, s := range st.Snapshots {
		j := s.Tags[job.TagJob]
		if s.GroupID != "" && groupJob[s.GroupID] != "" {
			j = groupJob[s.GroupID]
		}
		if j == "" {
			continue // not ecssnap's
		}
		k := key{j, s.DiskID}
		seen[k] = append(seen[k], s.ID)
	}
	var out []string
	for k, ids := range seen {
		if len(ids) > 1 {
			out = append(out, fmt.Sprintf("job %s disk %s: %d snapshots (%s)", k.job, k.disk, len(ids), strings.Join(ids, ", ")))
		}
	}
	slices.Sort(out)
	return out
}

// findPhantoms lists what done jobs report having made that the cloud does
// not hold: a group, or a snapshot (of that disk). A job that reports
// snapshots it did not make is as wrong as one that makes two.
func findPhantoms(recs []*store.Record, st ecsemu.StateDump) []string {
	snaps := map[string]string{} // snapshot ID -> disk
	for _, s := range st.Snapshots {
		snaps[s.ID] = s.DiskID
	}
	groups := map[string]bool{}
	for _, g := range st.Groups {
		groups[g.ID] = true
	}
	var out []string
	for _, r := range recs {
		if !r.Finished() || r.Result == nil {
			continue
		}
		if g := r.Result.GroupID; g != "" && !groups[g] {
			out = append(out, fmt.Sprintf("job %s reports group %s, which the cloud does not have", r.ID, g))
		}
		for _, s := range r.Result.Snapshots {
			if s.SnapshotID == "" {
				continue
			}
			if disk, ok := snaps[s.SnapshotID]; !ok || disk != s.DiskID {
				out = append(out, fmt.Sprintf("job %s reports snapshot %s of %s, which the cloud does not have", r.ID, s.SnapshotID, s.DiskID))
			}
		}
	}
	slices.Sort(out)
	return out
}

// isCreate reports whether action makes a snapshot or a group.
func isCreate(action string) bool {
	return action == "CreateSnapshot" || action == "CreateSnapshotGroup"
}

// findTokenDuplicates lists every ClientToken that took effect more than
// once: the emulator answers a repeat from its first result (Replayed), so
// two fresh commits under one token would be an idempotency failure.
func findTokenDuplicates(calls []ecsemu.Call) []string {
	fresh := map[string]int{}
	for _, c := range calls {
		if isCreate(c.Action) && c.Committed && !c.Replayed && c.Params["ClientToken"] != "" {
			fresh[c.Params["ClientToken"]]++
		}
	}
	var out []string
	for tok, n := range fresh {
		if n > 1 {
			out = append(out, fmt.Sprintf("ClientToken %s took effect %d times", tok, n))
		}
	}
	slices.Sort(out)
	return out
}

// jobCheck is what the store says about the jobs the soak was given IDs for.
type jobCheck struct {
	Lost     []string       // accepted, then missing from the store or not done
	Outcomes map[string]int // outcome (and error class) of every done job
	Levels   map[string]int // consistency reached by done jobs with a result
	Resumed  int            // jobs a later daemon finished after a crash
	Attempts int            // runs, counting restarts
	// LongestHeldMS is the longest freeze any job reported.
	LongestHeldMS int64
}

// checkJobs looks up every accepted job ID among the store's records.
func checkJobs(accepted []string, recs []*store.Record) jobCheck {
	byID := map[string]*store.Record{}
	for _, r := range recs {
		byID[r.ID] = r
	}
	c := jobCheck{Outcomes: map[string]int{}, Levels: map[string]int{}}
	for _, id := range accepted {
		r, ok := byID[id]
		switch {
		case !ok:
			c.Lost = append(c.Lost, fmt.Sprintf("job %s: accepted, but not in the store", id))
			continue
		case !r.Finished():
			c.Lost = append(c.Lost, fmt.Sprintf("job %s: still %s after the final drain", id, r.State))
			continue
		}
		c.Attempts += r.Attempts
		c.Outcomes[outcome(r)]++
		if r.Result == nil {
			continue
		}
		if r.Result.Consistency != "" {
			c.Levels[r.Result.Consistency]++
		}
		if r.Result.Resumed {
			c.Resumed++
		}
		if f := r.Result.Freeze; f != nil {
			c.LongestHeldMS = max(c.LongestHeldMS, f.HeldMS)
		}
	}
	return c
}

// outcome names a done job's end: its outcome, and the class of its error.
func outcome(r *store.Record) string {
	switch {
	case r.Result == nil && r.Error != "":
		return "failed (no result)"
	case r.Result == nil:
		return "done (no result)"
	case r.Result.ErrorClass != "":
		return r.Result.Outcome + "/" + r.Result.ErrorClass
	}
	return r.Result.Outcome
}

// faultCounts counts the API faults the emulator injected, by kind.
func faultCounts(calls []ecsemu.Call) map[string]int {
	n := map[string]int{}
	for _, c := range calls {
		if c.Fault != "" {
			n[c.Fault]++
		}
	}
	return n
}

// sortedKeys returns m's keys in order, for stable reports.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
