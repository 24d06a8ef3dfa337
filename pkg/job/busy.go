package job

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ctxsleep"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// BusySnapshot is a snapshot someone else started on a disk of the job,
// still being created, that keeps the disk from taking another: the disk
// has Limit snapshots under way, as many as its category allows at once
// (one, or 10 for the ESSD family), and this is the one furthest along.
type BusySnapshot struct {
	DiskID     string `json:"disk_id"`
	Category   string `json:"category"`
	SnapshotID string `json:"snapshot_id"`
	Progress   int    `json:"progress"`
	Limit      int    `json:"limit"`
	UnderWay   int    `json:"under_way"`
}

// atATime says how many snapshots the disk takes at once.
func (b BusySnapshot) atATime() string {
	if b.Limit <= 1 {
		return "one snapshot at a time"
	}
	return fmt.Sprintf("%d snapshots at a time", b.Limit)
}

// BusyDiskError means preflight found such a snapshot: no create was
// sent, since the API would refuse it (IncorrectDiskStatus.CreatingSnapshot).
// Waited is how long the job waited for it before giving up (0: it did
// not wait).
type BusyDiskError struct {
	Busy   []BusySnapshot
	Waited time.Duration
}

func (e *BusyDiskError) Error() string {
	var parts []string
	for _, b := range e.Busy {
		taking := "snapshot"
		if b.Limit > 1 {
			taking = fmt.Sprintf("%d, the furthest along", b.UnderWay)
		}
		parts = append(parts, fmt.Sprintf("disk %s (%s, %s) is still taking %s %s (%d%%)",
			b.DiskID, b.Category, b.atATime(), taking, b.SnapshotID, b.Progress))
	}
	what := strings.Join(parts, "; ")
	if e.Waited > 0 {
		return fmt.Sprintf("refused before any create: waited %s and %s; nothing was created: try again when it finishes",
			e.Waited.Round(time.Millisecond), what)
	}
	return fmt.Sprintf("refused before any create: %s; nothing was created: try again when it finishes, or let the job wait for it (ecssnap now --wait)", what)
}

// notSent says why the create of diskID was never sent, the job having
// stopped in phase with err.
func notSent(diskID, phase string, err error) string {
	var busy *BusyDiskError
	if errors.As(err, &busy) {
		for _, b := range busy.Busy {
			if b.DiskID == diskID {
				return "not sent: snapshot " + b.SnapshotID + " of this disk is still being created"
			}
		}
	}
	if phase == "" {
		return "not sent"
	}
	return "not sent: the job stopped in " + phase
}

// busyOf picks, from the snapshots preflight found progressing, one on each
// of the job's disks that has as many under way as its category allows at
// once (concurrentSnapshots): the furthest along, which frees the disk
// first.
func busyOf(p *plan.Plan, progressing []cloud.Snapshot) []BusySnapshot {
	byDisk := map[string][]cloud.Snapshot{}
	var order []string
	for _, s := range progressing {
		if _, ok := p.Disks[s.DiskID]; !ok || p.Method(s.DiskID) == "" {
			continue
		}
		if byDisk[s.DiskID] == nil {
			order = append(order, s.DiskID)
		}
		byDisk[s.DiskID] = append(byDisk[s.DiskID], s)
	}
	var out []BusySnapshot
	for _, id := range order {
		d, snaps := p.Disks[id], byDisk[id]
		limit := concurrentSnapshots(d.Category)
		if len(snaps) < limit {
			continue
		}
		s := slices.MaxFunc(snaps, func(a, b cloud.Snapshot) int { return cmp.Compare(a.Progress, b.Progress) })
		out = append(out, BusySnapshot{DiskID: id, Category: d.Category, SnapshotID: s.ID, Progress: s.Progress,
			Limit: limit, UnderWay: len(snaps)})
	}
	return out
}

// concurrentSnapshots is how many snapshots of a disk of category can be
// under way at once (REFERENCE section 3: the ESSD family up to 10, older
// categories one); the API refuses one more with
// IncorrectDiskStatus.CreatingSnapshot.
func concurrentSnapshots(category string) int {
	if plan.ESSDFamily(category) {
		return 10
	}
	return 1
}

// waitForBusy follows the snapshots that block the job until each is
// accomplished, failed or gone, emitting "blocked" events as they
// progress, or until ctx ends (the job's timeout). It returns those still
// in the way, with their last progress.
func (r *run) waitForBusy(ctx context.Context, busy []BusySnapshot) ([]BusySnapshot, error) {
	busy = slices.Clone(busy)
	last := map[string]int{}
	for _, b := range busy {
		last[b.SnapshotID] = -1
	}
	interval := r.e.PollMin
	for {
		ids := make([]string, len(busy))
		for i, b := range busy {
			ids[i] = b.SnapshotID
		}
		snaps, err := r.e.describe(ctx, r.cloud, ids)
		if err != nil {
			return busy, err
		}
		var pending []BusySnapshot
		minRemain := 0
		for _, b := range busy {
			s, ok := snaps[b.SnapshotID]
			if !ok || s.status != StateProgressing {
				continue // done, failed or deleted: no longer in the way
			}
			b.Progress = s.progress
			pending = append(pending, b)
			if s.progress != last[b.SnapshotID] {
				last[b.SnapshotID] = s.progress
				r.emit(Event{Type: "blocked", DiskID: b.DiskID, SnapshotID: b.SnapshotID, Progress: s.progress,
					Message: fmt.Sprintf("waiting for snapshot %s of %s (%s takes %s)", b.SnapshotID, b.DiskID, b.Category, b.atATime())})
			}
			if s.remain > 0 && (minRemain == 0 || s.remain < minRemain) {
				minRemain = s.remain
			}
		}
		busy = pending
		if len(busy) == 0 {
			return nil, nil
		}
		if minRemain > 0 {
			interval = clampDuration(time.Duration(minRemain)*time.Second/2, r.e.PollMin, r.e.PollMax)
		} else {
			interval = clampDuration(interval*3/2, r.e.PollMin, r.e.PollMax)
		}
		if err := ctxsleep.Sleep(ctx, interval); err != nil {
			return busy, err
		}
	}
}
