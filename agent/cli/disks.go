package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

func runDisks(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "disks", "[--json]")
	jsonOut := fs.Bool("json", false, "print JSON")
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	id, cl, err := a.identify(ctx)
	if err != nil {
		return err
	}
	disks, err := cl.DescribeDisks(ctx, id.InstanceID)
	if err != nil {
		return fmt.Errorf("list the instance's disks: %w", err)
	}
	if *jsonOut {
		enc := json.NewEncoder(a.env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			InstanceID string       `json:"instance_id"`
			RegionID   string       `json:"region_id"`
			Disks      []cloud.Disk `json:"disks"`
		}{id.InstanceID, id.RegionID, disks})
	}
	tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DISK\tCATEGORY\tSIZE\tTYPE\tSERIAL\tSTATUS\tGROUP")
	for _, d := range disks {
		fmt.Fprintf(tw, "%s\t%s\t%d GiB\t%s\t%s\t%s\t%s\n", d.ID, d.Category, d.SizeGiB, d.Type,
			dash(d.Serial), d.Status, groupable(d))
	}
	return tw.Flush()
}

// groupable says whether the disk can join a snapshot group, in one word.
func groupable(d cloud.Disk) string {
	if reason := plan.Blocker(d, d.ZoneID, plan.MethodGroup); reason != "" {
		return "no"
	}
	return "yes"
}
