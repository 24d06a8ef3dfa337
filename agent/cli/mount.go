package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecssnap/ecssnap/pkg/restore"
)

// guest is the restore's view of this instance: sysfs below the configured
// root, and the test device map where the configuration enables it.
func (a *app) guest() *restore.LinuxGuest {
	g := &restore.LinuxGuest{Root: a.cfg.Root, Logger: a.logger}
	if a.cfg.TestDeviceMapEnabled && len(a.cfg.TestDeviceMap) > 0 {
		byDisk := map[string]string{}
		for dev, disk := range a.cfg.TestDeviceMap {
			byDisk[disk] = strings.TrimPrefix(dev, "/dev/")
		}
		g.DeviceMap = func(disk string) (string, bool) { d, ok := byDisk[disk]; return d, ok }
	}
	return g
}

func newMountCmd(r *runner) *cobra.Command {
	var at string
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "mount JOB [flags]",
		Short: "a job's point in time, read-only, beside the running system",
		Args:  oneJob,
		RunE: r.with(func(ctx context.Context, a *app, args []string) error {
			return runMount(ctx, a, args[0], &at, &jsonOut)
		}),
		ValidArgsFunction: r.completeJobs,
	}
	cmd.Flags().StringVar(&at, "at", "", "where to put the job's filesystems (default "+restore.DefaultMountRoot+"/JOB)")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the result as JSON")
	_ = cmd.RegisterFlagCompletionFunc("at", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return nil, cobra.ShellCompDirectiveFilterDirs
	})
	return cmd
}

func newUnmountCmd(r *runner) *cobra.Command {
	return &cobra.Command{
		Use:   "unmount JOB",
		Short: "undo `ecssnap mount`: unmount, detach and delete its disks",
		Args:  oneJob,
		RunE: r.with(func(ctx context.Context, a *app, args []string) error {
			return runUnmount(ctx, a, args[0])
		}),
		ValidArgsFunction: r.completeJobs,
	}
}

func newMountsCmd(r *runner) *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "mounts [flags]",
		Short: "list the restores mounted with `ecssnap mount`",
		Args:  noArgs,
		RunE: r.with(func(ctx context.Context, a *app, _ []string) error {
			return runMounts(ctx, a, &jsonOut)
		}),
	}
	jsonFlag(cmd, &jsonOut)
	return cmd
}

// runMount mounts a job's point in time read-only beside the running system.
func runMount(ctx context.Context, a *app, jobID string, at *string, jsonOut *bool) error {
	if os.Geteuid() != 0 {
		return &permissionError{"mount creates, attaches and mounts disks: run it as root (sudo ecssnap mount " + jobID + ")"}
	}
	id, cl, err := a.identify(ctx)
	if err != nil {
		return err
	}
	j, err := a.journal()
	if err != nil {
		return err
	}
	opts := a.restoreOptions()
	if *jsonOut {
		opts.Progress = nil
	}
	rec, err := restore.Mount(ctx, cl, j, a.guest(), restore.MountRequest{
		JobID: jobID, InstanceID: id.InstanceID, ZoneID: id.ZoneID, RegionID: id.RegionID,
		At: *at, Expect: a.jobSnapshotIDs(jobID),
	}, opts)
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(a.env.Stdout, rec)
	}
	fmt.Fprintf(a.env.Stdout, "Job %s is mounted read-only at %s:\n", jobID, rec.Mount.At)
	tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  PATH\tAS IT WAS AT\tFSTYPE\tFROM")
	for _, m := range rec.Mount.Mounts {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", m.Target, dash(m.Original), m.FSType, strings.Join(m.Disks, ", "))
	}
	tw.Flush()
	fmt.Fprintf(a.env.Stdout, "Copy what you need, then `ecssnap unmount %s`: the disks cost money until then.\n", jobID)
	return nil
}

// runUnmount undoes a mount: unmount, detach, delete.
func runUnmount(ctx context.Context, a *app, jobID string) error {
	if os.Geteuid() != 0 {
		return &permissionError{"unmount needs root (sudo ecssnap unmount " + jobID + ")"}
	}
	j, err := a.journal()
	if err != nil {
		return err
	}
	id, cl, err := a.identify(ctx)
	if err != nil {
		return err
	}
	if _, err := restore.Unmount(ctx, cl, j, a.guest(), jobID, id.InstanceID, a.restoreOptions()); err != nil {
		return err
	}
	fmt.Fprintf(a.env.Stdout, "Job %s is unmounted; its restore disks are deleted.\n", jobID)
	return nil
}

// runMounts lists the restores in place.
func runMounts(_ context.Context, a *app, jsonOut *bool) error {
	var recs []*restore.Record
	all, err := restore.JournalAt(a.cfg.StateDir, a.env.Now).List(restore.KindMount)
	if err != nil {
		return err
	}
	for _, r := range all {
		if r.State != restore.StateRemoved {
			recs = append(recs, r)
		}
	}
	if *jsonOut {
		if recs == nil {
			recs = []*restore.Record{}
		}
		return writeJSON(a.env.Stdout, recs)
	}
	if len(recs) == 0 {
		fmt.Fprintln(a.env.Stdout, "No restore is mounted.")
		return nil
	}
	tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tAT\tDISKS\tSINCE")
	for _, r := range recs {
		var disks []string
		for _, c := range r.Mount.Clones {
			disks = append(disks, dash(c.DiskID))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.JobID, r.State, r.Mount.At, strings.Join(disks, ","), r.Created.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

// recoverRestores cleans up restore mounts a crash interrupted. It costs
// nothing (no network) unless the journal shows one.
func (a *app) recoverRestores(ctx context.Context) {
	j := restore.JournalAt(a.cfg.StateDir, a.env.Now)
	if !restore.NeedsRecovery(j) {
		return
	}
	here, onECS := a.hereIdentity(ctx)
	if !onECS {
		return
	}
	cl, err := a.newCloud(here.RegionID)
	if err != nil {
		a.logger.Warn("cannot clean up an interrupted restore mount", "error", err)
		return
	}
	n, err := restore.Recover(ctx, cl, j, a.guest(), restore.Options{Logger: a.logger, Now: a.env.Now})
	if err != nil {
		a.logger.Warn("cleaning up an interrupted restore mount failed; `ecssnap unmount JOB` retries it", "error", err)
	}
	if n > 0 {
		a.logger.Warn("cleaned up interrupted restore mounts", "count", n)
	}
}
