package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// runPlan shows what `now` would do: a dry run of the same engine.
func runPlan(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "plan", "[--disks all|system|data|d-...] [--json]")
	disks := fs.String("disks", "all", "`DISKS` to snapshot: all, system, data, or comma-separated disk IDs")
	jsonOut := fs.Bool("json", false, "print JSON")
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	sel, err := plan.ParseSelection(*disks)
	if err != nil {
		return usagef("plan: %v", err)
	}
	res, err := a.engine(nil).Run(ctx, job.Request{Disks: sel, DryRun: true, Trigger: "plan"})
	if err != nil {
		return err
	}
	p := res.Plan
	if *jsonOut {
		enc := json.NewEncoder(a.env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	fmt.Fprintf(a.env.Stdout, "Instance %s (%s)\n", res.InstanceID, res.ZoneID)
	for _, line := range p.Reasons {
		fmt.Fprintf(a.env.Stdout, "  %s\n", line)
	}
	for _, x := range p.Excluded {
		fmt.Fprintf(a.env.Stdout, "  %s: left out (%s)\n", x.DiskID, x.Reason)
	}
	return nil
}
