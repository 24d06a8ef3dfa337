package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newPruneCmd(r *runner) *cobra.Command {
	var dryRun, jsonOut bool
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "apply retention to the managed snapshots",
		Args:  noArgs,
		RunE: r.with(func(ctx context.Context, a *app, _ []string) error {
			return runPrune(ctx, a, &dryRun, &jsonOut)
		}),
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be deleted, delete nothing")
	jsonFlag(cmd, &jsonOut)
	return cmd
}

// runPrune applies retention to the managed snapshots now.
func runPrune(ctx context.Context, a *app, dryRun, jsonOut *bool) error {
	rep, err := a.prune(ctx, *dryRun)
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(a.env.Stdout, rep)
	}
	verb := "deleted"
	if *dryRun {
		verb = "would delete"
	}
	if len(rep.Deleted) == 0 && len(rep.Failed) == 0 {
		fmt.Fprintln(a.env.Stdout, "Nothing to prune.")
		return nil
	}
	tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tKIND\tID\tJOB\tTRIGGER\tCREATED\tWHY")
	for _, d := range rep.Deleted {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", verb, d.Kind, d.ID, dash(d.Job), dash(d.Trigger),
			d.Created.Local().Format(time.DateTime), d.Reason)
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(tw, "kept\t%s\t%s\t%s\t%s\t%s\t%v\n", f.Kind, f.ID, dash(f.Job), dash(f.Trigger),
			f.Created.Local().Format(time.DateTime), f.Err)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return rep.Err()
}
