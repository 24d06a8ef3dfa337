package daemon

import (
	"slices"

	"github.com/ecssnap/ecssnap/pkg/job"
)

// covers reports whether job e gives a request for want what it asked for,
// so that the request may join it instead of running a job of its own:
// every disk and filesystem want selects is in e's selection, e's level is
// at or above want's, and e has not failed. A request that joins a job that
// does not cover it would go on (an upgrade, say) without the snapshot it
// was promised, so when in doubt the answer is no and a new job runs.
func covers(e *Job, want job.Request) bool {
	have := e.req
	if e.failed || have.DryRun != want.DryRun {
		return false
	}
	// A job that accepted an inconsistent capture gives less than one
	// that refuses it.
	if have.AllowInconsistent && !want.AllowInconsistent {
		return false
	}
	res := e.rec.Result
	finished := e.rec.Finished() && res != nil
	if finished && !allCreated(res) {
		return false
	}
	if !levelCovers(have, res, finished, want) {
		return false
	}
	return selectionCovers(have, res, finished, want)
}

// rank is the level a desired level stands for: the default is fs, which
// is what it asks for wherever freezing is possible.
func rank(l job.Level) job.Level {
	if l == job.LevelDefault {
		return job.LevelFS
	}
	return l
}

func levelCovers(have job.Request, res *job.Result, finished bool, want job.Request) bool {
	if !finished {
		// Running or queued: it aims at least as high as want does.
		return rank(have.Consistency) >= rank(want.Consistency)
	}
	achieved, err := job.ParseLevel(res.Consistency)
	if err != nil {
		return false
	}
	if achieved < want.Require {
		return false
	}
	// The same ask on the same machine reaches the same level (a disk
	// ecssnap cannot map keeps every job at crash): a new job would not do
	// better, and would snapshot again for every dpkg run of a session.
	// The required level was checked above.
	if want.Consistency == have.Consistency {
		return true
	}
	return achieved >= rank(want.Consistency)
}

// allCreated reports whether every snapshot of a finished job was created
// and none failed.
func allCreated(res *job.Result) bool {
	if len(res.Snapshots) == 0 {
		return false
	}
	for _, s := range res.Snapshots {
		if s.SnapshotID == "" || s.State == job.StateFailed || s.State == job.StateNotCreated {
			return false
		}
	}
	return true
}

// allDisks reports whether a request selects every disk of the instance.
func allDisks(r job.Request) bool {
	return (r.Disks.Kind == "" || r.Disks.Kind == "all") && len(r.Mounts) == 0
}

func selectionCovers(have job.Request, res *job.Result, finished bool, want job.Request) bool {
	if allDisks(have) {
		return true
	}
	// want's filesystems.
	for _, m := range want.Mounts {
		if !slices.Contains(have.Mounts, m) {
			return false
		}
	}
	// want's disks: none beyond the mounts when it names only mounts.
	switch want.Disks.Kind {
	case "", "all":
		return len(want.Mounts) > 0
	case "system", "data":
		if have.Disks.Kind == want.Disks.Kind {
			return true
		}
		// A finished job shows what it snapshotted; the system disk is
		// one. Which disks are data disks needs the inventory.
		return finished && want.Disks.Kind == "system" && slices.ContainsFunc(res.Snapshots, func(s job.SnapshotResult) bool {
			return s.DiskType == "system"
		})
	case "ids":
		for _, id := range want.Disks.IDs {
			inHave := have.Disks.Kind == "ids" && slices.Contains(have.Disks.IDs, id)
			inRes := finished && slices.ContainsFunc(res.Snapshots, func(s job.SnapshotResult) bool { return s.DiskID == id })
			if !inHave && !inRes {
				return false
			}
		}
		return true
	}
	return false
}
