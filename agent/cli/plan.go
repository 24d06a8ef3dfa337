package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// planFlags are the flags of `ecssnap plan`.
type planFlags struct {
	disks                string
	mounts               stringList
	allow, jsonOut       bool
	consistency, require string
}

func newPlanCmd(r *runner) *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan [flags]",
		Short: "show what `now` would do, and why",
		Args:  noArgs,
		RunE: r.with(func(ctx context.Context, a *app, _ []string) error {
			return runPlan(ctx, a, &f)
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&f.disks, "disks", "all", "`DISKS` to snapshot: all, system, data, or comma-separated disk IDs")
	fs.Var(&f.mounts, "mount", "snapshot the disks under the filesystem mounted at `PATH` (repeatable)")
	fs.BoolVar(&f.allow, "allow-inconsistent", false, "accept a filesystem spanning disks that cannot be captured at one point in time")
	fs.StringVar(&f.consistency, "consistency", "", "desired `LEVEL`, as for now: crash, fs or app; default from the configuration, else fs where freezing is possible")
	fs.StringVar(&f.require, "require", "crash", "minimum `LEVEL`, as for now")
	jsonFlag(cmd, &f.jsonOut)
	completeWords(cmd, "consistency", "crash", "fs", "app")
	completeWords(cmd, "require", "crash", "fs", "app")
	completeDisks(cmd)
	completeMounts(cmd)
	return cmd
}

// runPlan shows what `now` would do: a dry run of the same engine.
func runPlan(ctx context.Context, a *app, f *planFlags) error {
	disks, mounts, allow, jsonOut := &f.disks, f.mounts, &f.allow, &f.jsonOut
	sel, err := plan.ParseSelection(*disks)
	if err != nil {
		return usagef("plan: %v", err)
	}
	if f.consistency == "" {
		f.consistency = a.cfg.Consistency
	}
	desired, err := job.ParseLevel(f.consistency)
	if err != nil {
		return usagef("plan: --%v", err)
	}
	required, err := job.ParseLevel(f.require)
	if err != nil {
		return usagef("plan: --require: %v", err)
	}
	res, err := a.engine(nil).Run(ctx, job.Request{Disks: sel, Mounts: mounts, AllowInconsistent: *allow, DryRun: true, Trigger: "plan",
		Consistency: desired, Require: required})
	if err != nil {
		return err
	}
	if *jsonOut {
		enc := json.NewEncoder(a.env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res.Plan)
	}
	printPlan(a.env.Stdout, res)
	return nil
}

func printPlan(w io.Writer, res *job.Result) {
	p := res.Plan
	fmt.Fprintf(w, "Instance %s (%s)\n", res.InstanceID, res.ZoneID)
	for _, line := range p.Reasons {
		fmt.Fprintf(w, "  %s\n", line)
	}
	for _, x := range p.Excluded {
		fmt.Fprintf(w, "  %s: left out (%s)\n", x.DiskID, x.Reason)
	}
	if len(p.FreezeSet) > 0 {
		var mps []string
		for _, t := range p.FreezeSet {
			mps = append(mps, t.MountPoint)
		}
		fmt.Fprintf(w, "  freeze, in this order: %s\n", strings.Join(mps, " "))
	}
	for _, s := range p.FreezeSkipped {
		fmt.Fprintf(w, "  not frozen: %s (%s)\n", s.MountPoint, s.Reason)
	}
	if !p.LocalKnown {
		fmt.Fprintln(w, "  the local disk layout is unknown: filesystems spanning disks cannot be recognised")
	}
	printConsistency(w, res)
	for _, warn := range res.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
}

// printConsistency says which level `now` would reach, why not the one
// wanted, and what that means for its exit code.
func printConsistency(w io.Writer, res *job.Result) {
	got, _ := job.ParseLevel(res.Consistency)
	want, _ := job.ParseLevel(res.Desired)
	need, _ := job.ParseLevel(res.Required)
	what := map[job.Level]string{
		job.LevelCrash: "every disk as a power cut would leave it",
		job.LevelFS:    "the filesystems frozen during the creates",
		job.LevelApp:   "pre-freeze hook scripts, then the filesystems frozen",
	}[got]
	fmt.Fprintf(w, "  consistency: %s (%s)\n", got, what)
	switch {
	case got < need:
		fmt.Fprintf(w, "    below the required %s: %s\n", need, res.ConsistencyWhy)
		fmt.Fprintln(w, "    `now` would fail (exit 1)")
	case got < want:
		fmt.Fprintf(w, "    below the %s wanted: %s\n", want, res.ConsistencyWhy)
		fmt.Fprintf(w, "    `now` would end degraded (exit 2); --consistency %s asks for no more\n", got)
	}
}
