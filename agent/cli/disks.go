package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

func newDisksCmd(r *runner) *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "disks [flags]",
		Short: "list the instance's cloud disks",
		Args:  noArgs,
		RunE: r.with(func(ctx context.Context, a *app, _ []string) error {
			return runDisks(ctx, a, &jsonOut)
		}),
	}
	jsonFlag(cmd, &jsonOut)
	return cmd
}

// runDisks shows every cloud disk with its local device, the partitions and
// stacked devices on it, and the filesystems it carries.
func runDisks(ctx context.Context, a *app, jsonOut *bool) error {
	inv, err := a.engine(nil).Inventory(ctx)
	if err != nil {
		return err
	}
	if *jsonOut {
		enc := json.NewEncoder(a.env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(inv)
	}
	printInventory(a.env.Stdout, inv)
	return nil
}

func printInventory(w io.Writer, inv *job.Inventory) {
	fmt.Fprintf(w, "Instance %s (%s, %s)\n\n", inv.Identity.InstanceID, inv.Identity.RegionID, inv.Identity.ZoneID)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DISK\tCATEGORY\tSIZE\tTYPE\tDEVICE\tSERIAL\tHOLDERS\tMOUNTS\tFS\tGROUP")
	for _, d := range inv.Disks {
		dev, holders, mounts, fstypes := "", "", "", ""
		if inv.Local != nil {
			dev = inv.Local.Devices[d.ID]
			var mps, types []string
			for _, f := range inv.Local.Filesystems {
				if slices.Contains(f.Disks, d.ID) {
					mps = append(mps, f.MountPoint)
					if !slices.Contains(types, f.FSType) {
						types = append(types, f.FSType)
					}
				}
			}
			mounts, fstypes = strings.Join(mps, ","), strings.Join(types, ",")
		}
		if dev != "" && inv.Topology != nil {
			holders = strings.Join(inv.Topology.Holders(dev), ",")
		}
		if dev == "" && inv.Mapping != nil {
			if m, ok := inv.Mapping.ByDiskID(d.ID); ok && m.Reason != "" {
				dev = "(" + string(m.Reason) + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d GiB\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Category, d.SizeGiB, d.Type,
			dash(dev), dash(d.Serial), dash(holders), dash(mounts), dash(fstypes), groupable(d))
	}
	tw.Flush()
	if inv.Mapping != nil && len(inv.Mapping.Unmapped) > 0 {
		fmt.Fprintln(w, "\nLocal disks that are not snapshottable cloud disks:")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, u := range inv.Mapping.Unmapped {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", u.Device, u.Reason, u.Detail)
		}
		tw.Flush()
	}
	if inv.Local == nil {
		fmt.Fprintln(w, "\nThe local disk layout could not be read: devices and mounts are unknown.")
	}
	for _, warn := range inv.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
}

// groupable says whether the disk can join a snapshot group, in one word.
func groupable(d cloud.Disk) string {
	if reason := plan.Blocker(d, d.ZoneID, plan.MethodGroup); reason != "" {
		return "no"
	}
	return "yes"
}
