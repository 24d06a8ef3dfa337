package job

import (
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

// BusySnapshot is a snapshot someone else started on a disk of the job
// that allows one snapshot at a time, still being created.
type BusySnapshot struct {
	DiskID     string `json:"disk_id"`
	Category   string `json:"category"`
	SnapshotID string `json:"snapshot_id"`
	Progress   int    `json:"progress"`
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
		parts = append(parts, fmt.Sprintf("disk %s (%s, one snapshot at a time) is still taking snapshot %s (%d%%)",
			b.DiskID, b.Category, b.SnapshotID, b.Progress))
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

// busyOf picks, from the snapshots preflight found progressing, those on
// the job's disks that allow only one snapshot at a time (an ESSD-family
// disk runs several at once).
func busyOf(p *plan.Plan, progressing []cloud.Snapshot) []BusySnapshot {
	var out []BusySnapshot
	for _, s := range progressing {
		d, ok := p.Disks[s.DiskID]
		if !ok || p.Method(s.DiskID) == "" || plan.Blocker(d, "", plan.MethodGroup) == "" {
			continue
		}
		out = append(out, BusySnapshot{DiskID: s.DiskID, Category: d.Category, SnapshotID: s.ID, Progress: s.Progress})
	}
	return out
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
					Message: fmt.Sprintf("waiting for snapshot %s of %s (%s takes one snapshot at a time)", b.SnapshotID, b.DiskID, b.Category)})
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
