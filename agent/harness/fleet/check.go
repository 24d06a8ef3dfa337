package fleet

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/job"
)

// Findings are what the emulator's final state says about the jobs. Every
// list holds one line per problem; all empty means every disk of every
// instance got exactly one snapshot, from its own job, and nothing else
// was created.
type Findings struct {
	// Duplicates: a disk with more than one snapshot, an instance with more
	// than one group, or a ClientToken that took effect twice.
	Duplicates []string `json:"duplicates"`
	// Missing: a disk of a successful job without a snapshot, or a snapshot
	// a job reports that the cloud does not have (or has for another disk).
	Missing []string `json:"missing"`
	// Untagged: a job's snapshot without the job's ecssnap:job tag, which
	// listing and retention rely on.
	Untagged []string `json:"untagged"`
	// Failed: snapshots the cloud reports as failed.
	Failed []string `json:"failed"`
}

// OK reports whether nothing is wrong.
func (f Findings) OK() bool {
	return len(f.Duplicates)+len(f.Missing)+len(f.Untagged)+len(f.Failed) == 0
}

// verify checks the jobs' results against the emulator's state and call log.
func verify(results []agentResult, st ecsemu.StateDump, calls []ecsemu.Call) Findings {
	f := Findings{Duplicates: []string{}, Missing: []string{}, Untagged: []string{}, Failed: []string{}}
	owner := map[string]string{}     // disk -> instance
	disksOf := map[string][]string{} // instance -> disks
	for _, d := range st.Disks {
		owner[d.ID] = d.InstanceID
		disksOf[d.InstanceID] = append(disksOf[d.InstanceID], d.ID)
	}
	snaps := map[string]ecsemu.SnapshotView{}
	onDisk := map[string][]string{} // disk -> snapshots
	for _, s := range st.Snapshots {
		snaps[s.ID] = s
		onDisk[s.DiskID] = append(onDisk[s.DiskID], s.ID)
		if s.Status == "failed" {
			f.Failed = append(f.Failed, fmt.Sprintf("snapshot %s of %s failed", s.ID, s.DiskID))
		}
	}
	for _, d := range st.Disks {
		if ids := onDisk[d.ID]; len(ids) > 1 {
			f.Duplicates = append(f.Duplicates, fmt.Sprintf("disk %s of %s has %d snapshots: %s", d.ID, d.InstanceID, len(ids), strings.Join(ids, ", ")))
		}
	}
	groupsOf := map[string][]string{}
	for _, g := range st.Groups {
		groupsOf[g.InstanceID] = append(groupsOf[g.InstanceID], g.ID)
	}
	for inst, ids := range groupsOf {
		if len(ids) > 1 {
			f.Duplicates = append(f.Duplicates, fmt.Sprintf("instance %s has %d snapshot groups: %s", inst, len(ids), strings.Join(ids, ", ")))
		}
	}
	// Idempotency from the call log: a ClientToken may take effect once;
	// every repeat must be answered from the first.
	took := map[string]int{}
	for _, c := range calls {
		if c.Committed && !c.Replayed && strings.HasPrefix(c.Action, "Create") && c.Params["ClientToken"] != "" {
			took[c.Action+" "+c.Params["ClientToken"]]++
		}
	}
	for key, n := range took {
		if n > 1 {
			f.Duplicates = append(f.Duplicates, fmt.Sprintf("%s took effect %d times", key, n))
		}
	}
	for _, r := range results {
		if r.res == nil {
			continue
		}
		f.checkJob(r, snaps, onDisk, disksOf[r.instance])
	}
	for _, l := range [][]string{f.Duplicates, f.Missing, f.Untagged, f.Failed} {
		slices.Sort(l)
	}
	return f
}

// checkJob checks one job: every snapshot it reports exists and is of the
// disk it names; after a successful job every disk of the instance has a
// snapshot that carries the job's tag, and the job knows its ID.
func (f *Findings) checkJob(r agentResult, snaps map[string]ecsemu.SnapshotView, onDisk map[string][]string, disks []string) {
	res := r.res
	for _, s := range res.Snapshots {
		if s.SnapshotID == "" {
			if r.err == nil {
				f.Missing = append(f.Missing, fmt.Sprintf("job %s on %s succeeded without the snapshot ID of %s", res.JobID, r.instance, s.DiskID))
			}
			continue
		}
		got, ok := snaps[s.SnapshotID]
		switch {
		case !ok:
			f.Missing = append(f.Missing, fmt.Sprintf("job %s on %s reports %s of %s, which the cloud does not have", res.JobID, r.instance, s.SnapshotID, s.DiskID))
		case got.DiskID != s.DiskID:
			f.Missing = append(f.Missing, fmt.Sprintf("job %s on %s reports %s for %s, but it is of %s", res.JobID, r.instance, s.SnapshotID, s.DiskID, got.DiskID))
		}
	}
	if r.err != nil {
		return
	}
	for _, d := range disks {
		if len(onDisk[d]) == 0 {
			f.Missing = append(f.Missing, fmt.Sprintf("job %s on %s succeeded but disk %s has no snapshot", res.JobID, r.instance, d))
		}
		for _, id := range onDisk[d] {
			if snaps[id].Tags[job.TagJob] != res.JobID {
				f.Untagged = append(f.Untagged, fmt.Sprintf("snapshot %s of %s lacks %s=%s", id, d, job.TagJob, res.JobID))
			}
		}
	}
}
