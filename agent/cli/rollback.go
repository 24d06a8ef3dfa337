package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/imds"
	"github.com/ecssnap/ecssnap/pkg/restore"
	"github.com/ecssnap/ecssnap/pkg/store"
)

// oneJob is the positional arguments of a command that takes one JOB.
func oneJob(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usagef("%s: name one job (see 'ecssnap list')", cmd.Name())
	}
	if !store.ValidID(args[0]) {
		return usagef("%s: %q is not a job ID", cmd.Name(), args[0])
	}
	return nil
}

// rollbackFlags are the flags of `ecssnap rollback`.
type rollbackFlags struct {
	instance, region           string
	yes, dryRun, keep, jsonOut bool
}

func newRollbackCmd(r *runner) *cobra.Command {
	var f rollbackFlags
	cmd := &cobra.Command{
		Use:   "rollback JOB --instance ID [flags]",
		Short: "from outside the instance: stop it, reset its disks to a job, start it",
		Args:  oneJob,
		RunE: r.with(func(ctx context.Context, a *app, args []string) error {
			return runRollback(ctx, a, args[0], &f)
		}),
		ValidArgsFunction: r.completeJobs,
	}
	fl := cmd.Flags()
	fl.StringVar(&f.instance, "instance", "", "the instance whose disks to roll back (default: the job's, found by its tags)")
	fl.StringVar(&f.region, "region", "", "its region (default ALIBABA_CLOUD_REGION_ID, or this instance's)")
	fl.BoolVar(&f.yes, "yes", false, "proceed: the rollback is irreversible and stops the instance")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the API calls and the equivalent console steps; change nothing")
	fl.BoolVar(&f.keep, "keep-current", true, "snapshot every disk's current state first (a rollback is irreversible)")
	fl.BoolVar(&f.jsonOut, "json", false, "print the result as JSON")
	return cmd
}

// imageFlags are the flags of `ecssnap image`.
type imageFlags struct {
	name, instance, region string
	jsonOut                bool
}

func newImageCmd(r *runner) *cobra.Command {
	var f imageFlags
	cmd := &cobra.Command{
		Use:   "image JOB [flags]",
		Short: "a custom image from a job's snapshots",
		Args:  oneJob,
		RunE: r.with(func(ctx context.Context, a *app, args []string) error {
			return runImage(ctx, a, args[0], &f)
		}),
		ValidArgsFunction: r.completeJobs,
	}
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", "", "the image's name (default ecssnap-JOB)")
	fl.StringVar(&f.instance, "instance", "", "the job's instance (default: this one; from elsewhere, found by tag)")
	fl.StringVar(&f.region, "region", "", "the region (default ALIBABA_CLOUD_REGION_ID, or this instance's)")
	fl.BoolVar(&f.jsonOut, "json", false, "print the result as JSON")
	return cmd
}

// hereIdentity is this machine's instance identity when it is an ECS
// instance, read with a short deadline: off ECS there is no metadata
// service, and waiting long for one would only delay an operator.
func (a *app) hereIdentity(ctx context.Context) (imds.Identity, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	id, err := a.metadata().Identity(ctx)
	return id, err == nil && id.InstanceID != ""
}

// restoreCloud picks the region (--region, ALIBABA_CLOUD_REGION_ID, or this
// instance's) and makes a client for it.
func (a *app) restoreCloud(ctx context.Context, region string, here imds.Identity, onECS bool) (*cloud.Client, string, error) {
	if region == "" {
		region = a.env.Getenv("ALIBABA_CLOUD_REGION_ID")
	}
	if region == "" && onECS {
		region = here.RegionID
	}
	if region == "" {
		return nil, "", usagef("name the region: --region R (or ALIBABA_CLOUD_REGION_ID)")
	}
	cl, err := a.newCloud(region)
	return cl, region, err
}

// jobSnapshotIDs lists the snapshots the job's local record names, when
// this machine has it: the way to notice a snapshot deleted since.
func (a *app) jobSnapshotIDs(jobID string) []string {
	st, err := store.OpenReadOnly(a.cfg.StateDir, store.Options{Logger: a.logger})
	if err != nil {
		return nil
	}
	defer st.Close()
	rec, err := st.Get(jobID)
	if err != nil || rec.Result == nil {
		return nil
	}
	var ids []string
	for _, s := range rec.Result.Snapshots {
		if s.SnapshotID != "" {
			ids = append(ids, s.SnapshotID)
		}
	}
	return ids
}

func (a *app) restoreOptions() restore.Options {
	return restore.Options{
		Logger: a.logger, Now: a.env.Now,
		Progress: func(msg string) {
			fmt.Fprintf(a.env.Stdout, "%s  %s\n", a.env.Now().Format("15:04:05"), msg)
		},
	}
}

func (a *app) journal() (*restore.Journal, error) {
	return restore.OpenJournal(a.cfg.StateDir, a.env.Now)
}

// runRollback resets an instance's disks to a job's snapshots, from
// outside that instance.
func runRollback(ctx context.Context, a *app, jobID string, f *rollbackFlags) error {
	instance, region, yes, dryRun, keep, jsonOut := &f.instance, &f.region, &f.yes, &f.dryRun, &f.keep, &f.jsonOut
	here, onECS := a.hereIdentity(ctx)
	if onECS && (*instance == "" || *instance == here.InstanceID) {
		// ResetDisk needs the instance Stopped, and nothing inside an
		// instance outlives its stop: the rollback has to run elsewhere.
		return usagef("rollback resets this instance's own disks, which needs it stopped, and ecssnap cannot outlive its instance; "+
			"run from another machine with credentials: ecssnap rollback %s --instance %s --region %s --yes", jobID, here.InstanceID, here.RegionID)
	}
	cl, reg, err := a.restoreCloud(ctx, *region, here, onECS)
	if err != nil {
		return err
	}
	if *instance == "" {
		// The job's tags name its snapshots; their disks (or group) name
		// the instance.
		found, err := restore.FindJob(ctx, cl, jobID, "", nil)
		if err != nil {
			return err
		}
		if found.InstanceID == "" {
			return usagef("rollback: the disks of job %s are attached to no instance; name it with --instance ID", jobID)
		}
		*instance = found.InstanceID
	}
	var j *restore.Journal
	if !*dryRun {
		if j, err = a.journal(); err != nil {
			return err
		}
	}
	p, err := restore.PlanRollback(ctx, cl, j, jobID, *instance, reg, *keep, a.jobSnapshotIDs(jobID))
	if err != nil {
		return err
	}
	if !*jsonOut || *dryRun {
		printRollbackPlan(a, p)
	}
	if *dryRun {
		fmt.Fprintln(a.env.Stdout, "\nAPI calls, in order:")
		for i, c := range p.Calls() {
			fmt.Fprintf(a.env.Stdout, "  %d. %s\n", i+1, c)
		}
		fmt.Fprintln(a.env.Stdout, "\nThe same in the ECS console:")
		for i, s := range p.ConsoleSteps() {
			fmt.Fprintf(a.env.Stdout, "  %d. %s\n", i+1, s)
		}
		fmt.Fprintln(a.env.Stdout, "\nDry run: nothing was changed.")
		return nil
	}
	if !*yes {
		return usagef("rollback is irreversible and stops %s: nothing was changed; add --yes to proceed", *instance)
	}
	opts := a.restoreOptions()
	if *jsonOut {
		opts.Progress = nil
	}
	rec, err := restore.Rollback(ctx, cl, j, p, opts)
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(a.env.Stdout, rec)
	}
	fmt.Fprintf(a.env.Stdout, "Rolled back %s to job %s; it is Running.\n", rec.InstanceID, rec.JobID)
	if rec.Rollback.SafetyJob != "" {
		fmt.Fprintf(a.env.Stdout, "The state before the rollback is job %s: ecssnap rollback %s --instance %s --region %s --yes undoes this.\n",
			rec.Rollback.SafetyJob, rec.Rollback.SafetyJob, rec.InstanceID, rec.RegionID)
	}
	return nil
}

func printRollbackPlan(a *app, p *restore.RollbackPlan) {
	w := a.env.Stdout
	taken := p.Job.Taken().UTC().Format("2006-01-02 15:04:05 UTC")
	if p.Resume != nil {
		fmt.Fprintf(w, "An unfinished rollback of %s to job %s will be continued (phase %s).\n", p.Instance.ID, p.Job.ID, p.Resume.Rollback.Phase)
	}
	fmt.Fprintf(w, "Rollback of %s (%s) to job %s, taken %s", p.Instance.ID, p.Instance.Status, p.Job.ID, taken)
	if p.Job.Consistency != "" {
		fmt.Fprintf(w, ", consistency %s", p.Job.Consistency)
	}
	fmt.Fprintln(w, ":")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  DISK\tTYPE\tCATEGORY\tSIZE\tRESET TO\tDATA LOST")
	snap := map[string]string{}
	for _, pr := range p.Pairs() {
		snap[pr.DiskID] = pr.SnapshotID
	}
	for _, d := range p.Disks {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d GiB\t%s\twritten after %s\n", d.ID, d.Type, d.Category, d.SizeGiB, snap[d.ID], taken)
	}
	tw.Flush()
	fmt.Fprintf(w, "Data written to these disks after %s is lost; the rollback cannot be undone", taken)
	if p.KeepCurrent {
		fmt.Fprintln(w, " except through the safety snapshots taken first (--keep-current).")
	} else {
		fmt.Fprintln(w, ", and --keep-current=false takes no safety snapshot.")
	}
	if len(p.Untouched) > 0 {
		var ids []string
		for _, d := range p.Untouched {
			ids = append(ids, d.ID)
		}
		fmt.Fprintf(w, "Not in the job, left as they are: %s.\n", strings.Join(ids, ", "))
	}
	fmt.Fprintf(w, "%s is stopped (KeepCharging), its disks reset, and started again.\n", p.Instance.ID)
}

// runImage makes a custom image from a job's snapshots.
func runImage(ctx context.Context, a *app, jobID string, f *imageFlags) error {
	name, instance, region, jsonOut := &f.name, &f.instance, &f.region, &f.jsonOut
	here, onECS := a.hereIdentity(ctx)
	if *instance == "" && onECS {
		*instance = here.InstanceID
	}
	cl, reg, err := a.restoreCloud(ctx, *region, here, onECS)
	if err != nil {
		return err
	}
	j, err := a.journal()
	if err != nil {
		return err
	}
	p, err := restore.PlanImage(ctx, cl, jobID, *instance, *name, a.jobSnapshotIDs(jobID))
	if err != nil {
		return err
	}
	opts := a.restoreOptions()
	if *jsonOut {
		opts.Progress = nil
	}
	rec, err := restore.Image(ctx, cl, j, reg, p, opts)
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(a.env.Stdout, rec)
	}
	fmt.Fprintf(a.env.Stdout, "Image %s (%s) is Available: job %s, %d disk(s).\n", rec.Image.ImageID, rec.Image.Name, rec.JobID, len(rec.Image.Disks))
	return nil
}
