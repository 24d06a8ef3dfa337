package job

import (
	"context"
	"fmt"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ctxsleep"
)

// WaitTimeoutError means the snapshots were created but did not all finish
// within the wait timeout. They go on in the cloud.
type WaitTimeoutError struct {
	Timeout time.Duration
	Pending int
	JobID   string
}

func (e *WaitTimeoutError) Error() string {
	return fmt.Sprintf("%d snapshots still progressing after %s; they continue in the cloud: follow them with `ecssnap show %s`",
		e.Pending, e.Timeout, e.JobID)
}

// WaitInterruptedError means the caller stopped the wait before the
// snapshots finished: a signal, or nobody following the job any more. The
// snapshots exist and go on in the cloud.
type WaitInterruptedError struct {
	Waited  time.Duration
	Pending int
	JobID   string
	Cause   error // why the wait stopped
}

func (e *WaitInterruptedError) Error() string {
	return fmt.Sprintf("stopped waiting after %s (%v): %d snapshots still progressing; they continue in the cloud: follow them with `ecssnap show %s`",
		e.Waited.Round(100*time.Millisecond), e.Cause, e.Pending, e.JobID)
}

func (e *WaitInterruptedError) Unwrap() error { return e.Cause }

// wait follows every created snapshot until it is accomplished or failed.
// Each round is one DescribeSnapshots call for up to 100 snapshots, so it
// costs the same for 1 or 16 disks; the interval adapts to the remaining
// time the API reports and stretches while nothing changes.
func (r *run) wait(parent context.Context) error {
	start := r.e.Now()
	defer func() { r.res.Timings.WaitMS = r.since(start) }()
	timeout := r.timeout()
	// One budget for the job's waits: time spent waiting for someone
	// else's snapshot before the creates counts against it.
	budget := max(timeout-time.Duration(r.res.Timings.BlockedMS)*time.Millisecond, 0)
	ctx, cancel := context.WithTimeout(parent, budget)
	defer cancel()
	// The wait ends early either way; which way decides what it says.
	ended := func() error {
		if parent.Err() != nil {
			return &WaitInterruptedError{Waited: r.e.Now().Sub(start), Pending: len(r.pendingIDs()), JobID: r.res.JobID, Cause: context.Cause(parent)}
		}
		return r.timeoutError(timeout)
	}

	interval := r.e.PollMin
	for {
		if r.groupMembersMissing() {
			if err := r.learnGroupMembers(ctx); err != nil && ctx.Err() == nil {
				return fmt.Errorf("follow the snapshot group: %w", err)
			}
		}
		ids := r.pendingIDs()
		if len(ids) == 0 && !r.groupMembersMissing() {
			break
		}
		changed := false
		if len(ids) > 0 {
			snaps, err := r.e.describe(ctx, r.cloud, ids)
			if err != nil {
				if ctx.Err() != nil {
					return ended()
				}
				return fmt.Errorf("follow the snapshots: %w", err)
			}
			var minRemain int
			changed, minRemain = r.update(snaps, ids, start)
			if minRemain > 0 {
				interval = clampDuration(time.Duration(minRemain)*time.Second/2, r.e.PollMin, r.e.PollMax)
			}
		}
		if len(r.pendingIDs()) == 0 && !r.groupMembersMissing() {
			break
		}
		if !changed {
			interval = clampDuration(interval*3/2, r.e.PollMin, r.e.PollMax)
		}
		if err := ctxsleep.Sleep(ctx, interval); err != nil {
			return ended()
		}
	}
	return r.waitErrors()
}

func (e *Engine) describe(ctx context.Context, c Cloud, ids []string) (map[string]cloudSnapshot, error) {
	snaps, err := c.DescribeSnapshots(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]cloudSnapshot, len(snaps))
	for _, s := range snaps {
		out[s.ID] = cloudSnapshot{status: s.Status, progress: s.Progress, remain: s.RemainSeconds}
	}
	return out, nil
}

type cloudSnapshot struct {
	status   string
	progress int
	remain   int
}

// update applies one round of answers; it reports whether anything changed
// and the smallest remaining time among unfinished snapshots.
func (r *run) update(snaps map[string]cloudSnapshot, asked []string, start time.Time) (changed bool, minRemain int) {
	for _, id := range asked {
		sr := r.bySnapshot(id)
		s, ok := snaps[id]
		if !ok {
			// Asked by ID and not returned: the snapshot no longer exists.
			sr.State, sr.Error = StateFailed, "the snapshot disappeared before it finished (deleted?)"
			r.emit(Event{Type: "failed", DiskID: sr.DiskID, SnapshotID: id, Message: sr.Error})
			changed = true
			continue
		}
		if s.progress != sr.Progress || s.status != sr.State {
			changed = true
		}
		sr.Progress, sr.State = s.progress, s.status
		sr.ElapsedMS = r.since(r.start)
		switch s.status {
		case StateAccomplished:
			sr.Progress = 100
			r.emit(Event{Type: "accomplished", DiskID: sr.DiskID, SnapshotID: id, Progress: 100})
		case StateFailed:
			sr.Error = "the cloud reports the snapshot failed"
			r.emit(Event{Type: "failed", DiskID: sr.DiskID, SnapshotID: id, Message: sr.Error})
		default:
			if changed {
				r.emit(Event{Type: "progress", DiskID: sr.DiskID, SnapshotID: id, Progress: s.progress})
			}
			if s.remain > 0 && (minRemain == 0 || s.remain < minRemain) {
				minRemain = s.remain
			}
		}
	}
	return changed, minRemain
}

func (r *run) bySnapshot(id string) *SnapshotResult {
	for i := range r.res.Snapshots {
		if r.res.Snapshots[i].SnapshotID == id {
			return &r.res.Snapshots[i]
		}
	}
	return nil
}

// pendingIDs lists snapshots that exist and have not reached an end state.
func (r *run) pendingIDs() []string {
	var ids []string
	for _, s := range r.res.Snapshots {
		if s.SnapshotID != "" && s.State != StateAccomplished && s.State != StateFailed {
			ids = append(ids, s.SnapshotID)
		}
	}
	return ids
}

func (r *run) groupMembersMissing() bool {
	if r.res.GroupID == "" {
		return false
	}
	for _, s := range r.res.Snapshots {
		if s.Method == "group" && s.SnapshotID == "" {
			return true
		}
	}
	return false
}

func (r *run) timeoutError(timeout time.Duration) error {
	return &WaitTimeoutError{Timeout: timeout, Pending: len(r.pendingIDs()), JobID: r.res.JobID}
}

func (r *run) waitErrors() error {
	var errs []error
	for _, s := range r.res.Snapshots {
		if s.State == StateFailed {
			errs = append(errs, fmt.Errorf("snapshot %s of %s failed: %s", s.SnapshotID, s.DiskID, s.Error))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d snapshots failed: %v", len(errs), len(r.res.Snapshots), errs[0])
}

// timeout bounds the job's waits: for its snapshots, and for a snapshot
// in its way.
func (r *run) timeout() time.Duration {
	if r.req.Timeout > 0 {
		return r.req.Timeout
	}
	return r.e.DefaultTimeout
}

func clampDuration(d, lo, hi time.Duration) time.Duration {
	return max(lo, min(d, hi))
}
