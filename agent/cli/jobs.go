package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecssnap/ecssnap/agent/daemon"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/store"
)

// jobViews returns recorded jobs: from the daemon when it runs, else from
// the store read-only (which needs no lock).
func (a *app) jobViews(ctx context.Context, limit int) ([]*localapi.JobView, error) {
	views, err := localapi.NewClient(a.cfg.Socket).ListJobs(ctx, limit)
	if !errors.Is(err, localapi.ErrDaemonNotRunning) {
		return views, err
	}
	st, err := store.OpenReadOnly(a.cfg.StateDir, store.Options{Logger: a.logger})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // no job was ever recorded here
	}
	if err != nil {
		return nil, fmt.Errorf("read the job history: %w", err)
	}
	defer st.Close()
	recs, err := st.List(store.ListOptions{Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("read the job history: %w", err)
	}
	out := make([]*localapi.JobView, len(recs))
	for i, r := range recs {
		out[i] = daemon.RecordView(r)
	}
	return out, nil
}

func listJobs(ctx context.Context, a *app, limit int, jsonOut bool) error {
	views, err := a.jobViews(ctx, limit)
	if err != nil {
		return err
	}
	if jsonOut {
		return writeJSON(a.env.Stdout, views)
	}
	if len(views) == 0 {
		fmt.Fprintln(a.env.Stdout, "No jobs recorded yet.")
		return nil
	}
	tw := tabwriter.NewWriter(safeWriter{a.env.Stdout}, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTARTED\tTRIGGER\tSTATE\tOUTCOME\tCONSISTENCY\tSNAPSHOTS\tREASON")
	for _, v := range views {
		outcome, level, n := "-", "-", 0
		if v.Result != nil {
			outcome, level, n = dash(outcomeName(v.Result)), levelName(v.Result.Consistency), existing(v.Result)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", v.ID, v.Created.Local().Format(time.DateTime),
			dash(printable(v.Trigger)), v.State, outcome, level, n, dash(printable(v.Reason)))
	}
	return tw.Flush()
}

func newShowCmd(r *runner) *cobra.Command {
	var (
		jsonOut bool
		w       showWait
	)
	cmd := &cobra.Command{
		Use:   "show JOB [flags]",
		Short: "show one job",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("show: name one job (see 'ecssnap list')")
			}
			if cmd.Flags().Changed("timeout") && !w.wait {
				return usagef("show: --timeout goes with --wait")
			}
			return nil
		},
		RunE: r.with(func(ctx context.Context, a *app, args []string) error {
			if w.wait {
				if err := a.waitJobEnd(ctx, args[0], w.timeout); err != nil {
					return err
				}
			}
			return runShow(ctx, a, args[0], &jsonOut)
		}),
		ValidArgsFunction: r.completeJobs,
	}
	jsonFlag(cmd, &jsonOut)
	fs := cmd.Flags()
	fs.BoolVar(&w.wait, "wait", false, "wait until the job has ended: its snapshots created and its bookkeeping done (a job that waits: every snapshot finished)")
	w.timeout = defaultShowWait
	fs.Var(durationFlag{&w.timeout}, "timeout", "how long --wait waits, a `DURATION` like 90s")
	return cmd
}

// showWait are show's --wait and --timeout.
type showWait struct {
	wait    bool
	timeout time.Duration
}

// runShow prints one job's record.
func runShow(ctx context.Context, a *app, id string, jsonOut *bool) error {
	v, err := localapi.NewClient(a.cfg.Socket).GetJob(ctx, id)
	if errors.Is(err, localapi.ErrDaemonNotRunning) {
		v, err = a.storedJob(id)
	}
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(a.env.Stdout, v)
	}
	// What callers wrote (trigger, reason, packages) is data: escaped, so
	// that it cannot act on the terminal.
	w := safeWriter{a.env.Stdout}
	fmt.Fprintf(w, "Job %s: %s", v.ID, v.State)
	if v.Trigger != "" {
		fmt.Fprintf(w, ", trigger %s", printable(v.Trigger))
	}
	if v.Reason != "" {
		fmt.Fprintf(w, ", reason %q", v.Reason)
	}
	fmt.Fprintln(w)
	if len(v.Packages) > 0 {
		fmt.Fprintf(w, "taken before %s:\n", plural(len(v.Packages), "package change", "package changes"))
		for _, p := range v.Packages {
			fmt.Fprintf(w, "  %s\n", printable(p))
		}
	}
	if v.Result != nil {
		if len(v.Result.Snapshots) > 0 {
			printSnapshotTable(w, v.Result)
		}
		fmt.Fprintln(w, printable(summary(v.Result)))
		a.showLive(ctx, w, v.Result)
	}
	if v.Error != "" {
		fmt.Fprintf(w, "error: %s\n", printable(v.Error))
	}
	return nil
}

func (a *app) storedJob(id string) (*localapi.JobView, error) {
	st, err := store.OpenReadOnly(a.cfg.StateDir, store.Options{Logger: a.logger})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no job %s: no job was ever recorded here", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read the job history: %w", err)
	}
	defer st.Close()
	r, err := st.Get(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no job %s: see `ecssnap list`", id)
	}
	if err != nil {
		return nil, err
	}
	return daemon.RecordView(r), nil
}

func newStatusCmd(r *runner) *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "status [flags]",
		Short: "the daemon and the latest job",
		Args:  noArgs,
		RunE: r.with(func(ctx context.Context, a *app, _ []string) error {
			return runStatus(ctx, a, &jsonOut)
		}),
	}
	jsonFlag(cmd, &jsonOut)
	return cmd
}

// runStatus reports the daemon and the latest job.
func runStatus(ctx context.Context, a *app, jsonOut *bool) error {
	status := struct {
		Daemon *localapi.Health  `json:"daemon,omitempty"`
		Note   string            `json:"note,omitempty"`
		Last   *localapi.JobView `json:"last_job,omitempty"`
	}{}
	h, err := localapi.NewClient(a.cfg.Socket).Health(ctx)
	switch {
	case errors.Is(err, localapi.ErrDaemonNotRunning):
		status.Note = err.Error()
	case err != nil:
		return err
	default:
		status.Daemon = h
	}
	if views, err := a.jobViews(ctx, 1); err == nil && len(views) > 0 {
		status.Last = views[0]
	}
	if *jsonOut {
		return writeJSON(a.env.Stdout, status)
	}
	w := a.env.Stdout
	if status.Daemon != nil {
		fmt.Fprintf(w, "daemon: running (pid %d, version %s, up since %s)\n", h.PID, h.Version, h.Started.Local().Format(time.DateTime))
		fmt.Fprintf(w, "running job: %s; queued: %d\n", dash(h.RunningJob), h.Queued)
	} else {
		fmt.Fprintf(w, "daemon: not running (jobs run in the calling process)\n")
	}
	if status.Last != nil {
		fmt.Fprintf(w, "last job: %s %s", status.Last.ID, status.Last.State)
		if status.Last.Result != nil {
			fmt.Fprintf(w, " %s (consistency %s)", status.Last.Result.Outcome, levelName(status.Last.Result.Consistency))
		}
		fmt.Fprintln(w)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// existing counts the job's snapshots that exist in the cloud (or did):
// not those planned, refused or never created.
func existing(res *job.Result) int {
	n := 0
	for _, s := range res.Snapshots {
		if s.SnapshotID != "" || s.State == job.StateCreated {
			n++
		}
	}
	return n
}
