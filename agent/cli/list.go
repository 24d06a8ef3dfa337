package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/job"
)

// listFlags are the flags of `ecssnap list`.
type listFlags struct {
	jsonOut, snapshots bool
	limit              int
}

func newListCmd(r *runner) *cobra.Command {
	f := listFlags{limit: 20}
	cmd := &cobra.Command{
		Use:   "list [flags]",
		Short: "list recorded jobs (--snapshots: the managed snapshots in the cloud)",
		Args:  noArgs,
		RunE: r.with(func(ctx context.Context, a *app, _ []string) error {
			return runList(ctx, a, &f)
		}),
	}
	jsonFlag(cmd, &f.jsonOut)
	cmd.Flags().BoolVar(&f.snapshots, "snapshots", false, "list the managed snapshots in the cloud instead of the job history")
	cmd.Flags().Var(rangeFlag{&f.limit, 1, 1 << 20}, "limit", "show at most `N` jobs")
	return cmd
}

// runList lists recorded jobs, or with --snapshots the instance's
// snapshots that carry ecssnap:managed=true.
func runList(ctx context.Context, a *app, f *listFlags) error {
	jsonOut, snapshots, limit := &f.jsonOut, &f.snapshots, &f.limit
	if !*snapshots {
		return listJobs(ctx, a, *limit, *jsonOut)
	}
	id, cl, err := a.identify(ctx)
	if err != nil {
		return err
	}
	snaps, err := cl.ListSnapshotsByTag(ctx, id.InstanceID, cloud.Tag{Key: job.TagManaged, Value: "true"})
	if err != nil {
		return fmt.Errorf("list managed snapshots: %w", err)
	}
	sort.Slice(snaps, func(i, j int) bool {
		if !snaps[i].Created.Equal(snaps[j].Created) {
			return snaps[i].Created.After(snaps[j].Created)
		}
		return snaps[i].ID < snaps[j].ID
	})
	if *jsonOut {
		enc := json.NewEncoder(a.env.Stdout)
		enc.SetIndent("", "  ")
		if snaps == nil {
			snaps = []cloud.Snapshot{}
		}
		return enc.Encode(snaps)
	}
	if len(snaps) == 0 {
		fmt.Fprintln(a.env.Stdout, "No snapshots managed by ecssnap on this instance.")
		return nil
	}
	tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SNAPSHOT\tDISK\tCREATED\tSTATUS\tJOB\tTRIGGER\tCONSISTENCY")
	for _, s := range snaps {
		status := s.Status
		if s.Status == cloud.StatusProgressing {
			status = fmt.Sprintf("%s %d%%", s.Status, s.Progress)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.DiskID, s.Created.Local().Format(time.DateTime),
			status, dash(s.Tags[job.TagJob]), dash(s.Tags[job.TagTrigger]), dash(s.Tags[job.TagConsistency]))
	}
	return tw.Flush()
}
