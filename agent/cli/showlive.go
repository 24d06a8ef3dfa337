package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ecssnap/ecssnap/pkg/job"
)

// liveTimeout bounds the cloud lookup `show` makes: the record is the
// answer, the live state a courtesy.
const liveTimeout = 10 * time.Second

// showLive asks the cloud how the snapshots the record left unfinished are
// doing now, and prints them: a job whose wait ended early (interrupted,
// timed out, a daemon gone) tells its caller to follow it with `ecssnap
// show`, and the record alone stops at the moment the wait ended.
func (a *app) showLive(ctx context.Context, w io.Writer, res *job.Result) {
	var ids []string
	for _, s := range res.Snapshots {
		if s.SnapshotID != "" && s.State != job.StateAccomplished && s.State != job.StateFailed {
			ids = append(ids, s.SnapshotID)
		}
	}
	if len(ids) == 0 || res.DryRun {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, liveTimeout)
	defer cancel()
	_, cl, err := a.identify(ctx)
	if err != nil {
		fmt.Fprintf(w, "now: could not ask the cloud how the snapshots are doing: %v\n", err)
		return
	}
	snaps, err := cl.DescribeSnapshots(ctx, ids)
	if err != nil {
		fmt.Fprintf(w, "now: could not ask the cloud how the snapshots are doing: %v\n", err)
		return
	}
	found := map[string]bool{}
	for _, s := range snaps {
		found[s.ID] = true
		fmt.Fprintf(w, "now: %s of %s is %s, %d%%\n", s.ID, s.DiskID, s.Status, s.Progress)
	}
	for _, id := range ids {
		if !found[id] {
			fmt.Fprintf(w, "now: %s no longer exists\n", id)
		}
	}
}
