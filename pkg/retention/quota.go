package retention

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
)

// QuotaFullError says a disk is at its manual snapshot quota and nothing
// ecssnap may delete is left on it.
type QuotaFullError struct {
	DiskID    string
	Quota     int
	Managed   int // ecssnap's, but important, in progress, in use or held
	Unmanaged int
}

func (e *QuotaFullError) Error() string {
	total := e.Managed + e.Unmanaged
	what := "none of them managed by ecssnap"
	if e.Managed > 0 {
		what = fmt.Sprintf("%d not managed by ecssnap and %d that ecssnap must keep (important, in progress or in use)", e.Unmanaged, e.Managed)
	}
	return fmt.Sprintf("disk %s holds %d manual snapshots, %s: delete some in the ECS console, or raise the per-disk quota ecssnap assumes (%d) if the account allows more",
		e.DiskID, total, what, e.Quota)
}

// MakeRoom readies the disks for one more snapshot each: while a disk holds
// quota manual snapshots or more, it deletes a whole job (group included)
// that has a snapshot on that disk and is not important, still progressing
// or held: first the oldest of those cfg would delete anyway, then the
// oldest of the rest, since a new snapshot matters more than keep-last and
// max-age. A disk left full gets a *QuotaFullError (several are joined; use
// errors.As). quota <= 0 means DefaultManualSnapshotQuota.
func MakeRoom(ctx context.Context, c Cloud, instanceID string, diskIDs []string, quota int, cfg Config, opts Options) (Report, error) {
	opts = opts.withDefaults()
	rep := Report{DryRun: opts.DryRun}
	if err := cfg.Validate(); err != nil {
		return rep, err
	}
	if quota <= 0 {
		quota = DefaultManualSnapshotQuota
	}
	onDisk, err := countManual(ctx, c, diskIDs)
	if err != nil {
		return rep, err
	}
	var full []string
	seen := map[string]bool{}
	for _, id := range diskIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		if snaps := onDisk[id]; len(snaps) >= quota {
			opts.Logger.Info("disk at its manual snapshot quota", "disk", id, "snapshots", len(snaps), "quota", quota)
			full = append(full, id)
		}
	}
	if len(full) == 0 {
		return rep, nil
	}
	snaps, groups, err := listManaged(ctx, c, instanceID)
	if err != nil {
		return rep, err
	}
	order := evictionOrder(collectJobs(snaps, groups), cfg, opts.Now())
	gone := map[string]bool{}
	evicted := map[*job]bool{}
	var errs []error
	for _, disk := range full {
		for {
			left := remaining(onDisk[disk], gone)
			if len(left) < quota {
				break
			}
			if err := ctx.Err(); err != nil {
				return rep, fmt.Errorf("make room: %w", err)
			}
			e := firstEvictable(order, disk, evicted, gone)
			if e == nil {
				errs = append(errs, quotaFull(disk, left, groups, quota))
				break
			}
			evicted[e.job] = true
			reason := fmt.Sprintf("evicted to make room on disk %s (%d manual snapshots, quota %d)", disk, len(left), quota)
			if e.due != "" {
				reason = e.due + "; " + reason
			}
			rep.evict(ctx, c, e.job, reason, gone, opts)
		}
	}
	return rep, errors.Join(errs...)
}

// evict deletes a whole job, marking what went in gone.
func (r *Report) evict(ctx context.Context, c Cloud, j *job, reason string, gone map[string]bool, opts Options) {
	for _, d := range j.deletions(reason) {
		ok, kept := r.apply(ctx, c, d, opts)
		if !ok {
			continue
		}
		if d.Kind == KindSnapshot {
			gone[d.ID] = true
			continue
		}
		for _, g := range j.groups {
			if g.ID != d.ID {
				continue
			}
			for _, m := range g.Members {
				if !slices.Contains(kept, m.SnapshotID) {
					gone[m.SnapshotID] = true
				}
			}
		}
	}
}

// candidate is a job MakeRoom may evict, and why cfg would delete it anyway.
type candidate struct {
	job *job
	due string
}

// evictionOrder lists the jobs MakeRoom may delete: those cfg would delete
// anyway, oldest first, then the others, oldest first.
func evictionOrder(jobs []*job, cfg Config, now time.Time) []candidate {
	var due, rest []candidate
	for i, reason := range verdicts(jobs, cfg, now) {
		j := jobs[i]
		switch {
		case j.important || !j.deletable():
		case reason != "":
			due = append(due, candidate{j, reason})
		default:
			rest = append(rest, candidate{j, ""})
		}
	}
	return append(due, rest...)
}

// firstEvictable returns the first candidate with a snapshot left on the
// disk, or nil.
func firstEvictable(order []candidate, disk string, evicted map[*job]bool, gone map[string]bool) *candidate {
	for i, c := range order {
		if evicted[c.job] {
			continue
		}
		for _, id := range c.job.snapshotsOn(disk) {
			if !gone[id] {
				return &order[i]
			}
		}
	}
	return nil
}

func remaining(snaps []cloud.Snapshot, gone map[string]bool) []cloud.Snapshot {
	var out []cloud.Snapshot
	for _, s := range snaps {
		if !gone[s.ID] {
			out = append(out, s)
		}
	}
	return out
}

// quotaFull counts what fills the disk: ecssnap's (by tag, or as a member
// of one of its groups) and the rest.
func quotaFull(disk string, left []cloud.Snapshot, groups []cloud.SnapshotGroup, quota int) *QuotaFullError {
	ours := map[string]bool{}
	for _, g := range groups {
		if isManaged(g.Tags) {
			for _, m := range g.Members {
				ours[m.SnapshotID] = true
			}
		}
	}
	e := &QuotaFullError{DiskID: disk, Quota: quota}
	for _, s := range left {
		if ours[s.ID] || isManaged(s.Tags) {
			e.Managed++
		} else {
			e.Unmanaged++
		}
	}
	return e
}

// countManual lists every disk's manual snapshots, the disks at once: a job
// with many disks costs one round trip here, not one per disk.
func countManual(ctx context.Context, c Cloud, diskIDs []string) (map[string][]cloud.Snapshot, error) {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		first error
	)
	out := map[string][]cloud.Snapshot{}
	for _, id := range diskIDs {
		mu.Lock()
		_, dup := out[id]
		out[id] = nil
		mu.Unlock()
		if dup {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			snaps, err := c.ListManualSnapshots(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = fmt.Errorf("count the snapshots of disk %s: %w", id, err)
			}
			out[id] = snaps
		}()
	}
	wg.Wait()
	return out, first
}
