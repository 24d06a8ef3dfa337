package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ecssnap/ecssnap/agent/daemon"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/store"
)

// jobOptions are the queueing options of a request, besides the job.
type jobOptions struct {
	force   bool
	session string
	cmdline string
	// joined, when not nil, is set to whether the request joined a job
	// already asked for (the same session) instead of starting one.
	joined *bool
}

// runJob runs req through the daemon when one answers on the socket, and
// otherwise in this process, recorded in the same store under its lock, so
// that two engines never run at once on one instance.
func (a *app) runJob(ctx context.Context, req job.Request, o jobOptions, out *renderer) (*job.Result, error) {
	creq := createRequest(req, o)
	if !req.DryRun {
		res, err := a.viaDaemon(ctx, creq, out, o.joined)
		var gone *daemonGoneError
		if !errors.Is(err, localapi.ErrDaemonNotRunning) || errors.As(err, &gone) {
			return res, err
		}
	}
	return a.inProcess(ctx, creq, out, o)
}

func createRequest(req job.Request, o jobOptions) localapi.CreateJobRequest {
	c := localapi.CreateJobRequest{
		Reason: req.Reason, Trigger: req.Trigger, Disks: req.Disks, Mounts: req.Mounts,
		Timeout: localapi.Duration(req.Timeout), RetentionDays: req.RetentionDays, Tags: req.Tags,
		DryRun: req.DryRun, AllowInconsistent: req.AllowInconsistent, Force: o.force, Session: o.session,
		Cmdline: o.cmdline, Complete: req.Wait, Wait: localapi.WaitCreated, Packages: req.Packages,
	}
	if req.Consistency != job.LevelDefault {
		c.Consistency = req.Consistency.String()
	}
	if req.Require != job.LevelDefault {
		c.Require = req.Require.String()
	}
	if req.Wait {
		c.Wait = localapi.WaitNone // the events are streamed instead
	}
	return c
}

// viaDaemon asks the daemon to run (or join) the job and follows it. A
// daemon that goes away meanwhile, or a signal, ends the request with an
// error that says what became of the job and how to follow it.
func (a *app) viaDaemon(ctx context.Context, creq localapi.CreateJobRequest, out *renderer, joined *bool) (*job.Result, error) {
	client := localapi.NewClient(a.cfg.Socket)
	sent := a.env.Now()
	var gone *localapi.GoneError
	v, err := client.CreateJob(ctx, creq)
	switch {
	case err == nil:
	case errors.As(err, &gone):
		return nil, a.daemonGone(ctx, creq, sent, "", err)
	case interruption(ctx) != nil:
		// The daemon keeps a job whose caller left: find it, if it was
		// made, so that the user can follow it.
		lookCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), goneLookup)
		defer cancel()
		in := interruption(ctx)
		var found *daemonGoneError
		if errors.As(a.daemonGone(lookCtx, creq, sent, "", err), &found) && found.jobID != "" {
			return nil, stoppedFollowing(in, found.jobID)
		}
		return nil, &interruptedError{sig: in.Signal, msg: fmt.Sprintf("%s before the daemon answered: "+
			"see `ecssnap list` for whether it made a job", in)}
	default:
		return nil, err
	}
	if v.Joined {
		a.logger.Info("joined a job already asked for in this session", "job", v.ID)
	}
	if joined != nil {
		*joined = v.Joined
	}
	if creq.Complete {
		id := v.ID
		err := client.Events(ctx, id, out.event)
		if err == nil {
			v, err = client.GetJob(ctx, id)
		}
		switch {
		case err == nil:
		case interruption(ctx) != nil:
			return nil, stoppedFollowing(interruption(ctx), id)
		case errors.As(err, &gone), errors.Is(err, localapi.ErrDaemonNotRunning):
			return nil, a.daemonGone(ctx, creq, sent, id, err)
		default:
			return nil, fmt.Errorf("follow job %s: %w", id, err)
		}
	}
	return v.Result, viewError(v)
}

// viewError turns a job the daemon reports into the error its class calls
// for.
func viewError(v *localapi.JobView) error {
	if v.Result == nil {
		if v.Error != "" {
			return &remoteJobError{msg: v.Error, class: job.ClassFailed}
		}
		return nil
	}
	if v.Result.Error == "" {
		return nil
	}
	return &remoteJobError{msg: v.Result.Error, class: v.Result.ErrorClass}
}

// inProcessGCPercent lets the heap of an in-process job grow to about
// 16 MiB before the first collection.
const inProcessGCPercent = 400

// lockWait bounds how long an in-process job waits for another to finish.
const lockWait = 10 * time.Minute

// inProcess runs the job here: recorded in the store (crash-safe, and
// resumed by the next ecssnap), or unrecorded for a user who may not write
// it.
func (a *app) inProcess(ctx context.Context, creq localapi.CreateJobRequest, out *renderer, o jobOptions) (*job.Result, error) {
	// The job allocates a few megabytes in all: with the default setting
	// the collector's first cycle came as DescribeDisks' answer was
	// decoded, on the path to the creates the caller waits for.
	defer debug.SetGCPercent(debug.SetGCPercent(inProcessGCPercent))
	// The identity is the job's first need: read it while the store opens
	// (the job's own read shares this one and its outcome).
	go a.metadata().Identity(ctx)
	st, err := a.openStore(ctx, creq.DryRun)
	if err != nil {
		return nil, err
	}
	if st != nil {
		defer st.Close()
	}
	// A caller that does not wait is answered once the snapshots are
	// created, as the daemon answers it: the point in time is fixed then.
	// A process of ours started for it finishes the rest (the group's
	// member IDs, tags, the record); `ecssnap show --wait JOB` waits for
	// that. Without a writable store nobody could finish it: the job ends
	// here.
	handOff := st != nil && !creq.Complete && a.env.Self != ""
	engine := func(emit func(job.Event)) *job.Engine {
		e := a.engine(emit)
		e.HandOff = handOff
		return e
	}
	jobs := daemon.NewJobs(daemon.JobsOptions{Engine: engine, Store: st, Logger: a.logger, Now: a.env.Now, Window: a.cfg.CoalesceWindow,
		CallerInProcess: true})
	if err := jobs.Reconcile(); err != nil {
		a.logger.Warn("could not reconcile unfinished jobs", "error", err)
	}
	// Without a session there is nothing to coalesce with in one process;
	// with one, a job of the session or a recent hook job (reconciled, or
	// finished lately and remembered here) is joined as the daemon would.
	creq.Force = creq.Force || creq.Session == ""
	if !creq.Force {
		if err := jobs.RememberFinished(); err != nil {
			a.logger.Warn("could not read the jobs finished lately", "error", err)
		}
	}
	self := localapi.Caller{UID: os.Getuid(), GID: os.Getgid(), PID: os.Getpid(), Cmdline: strings.Join(os.Args, " ")}
	j, wasJoined, err := jobs.Submit(creq, self)
	if err != nil {
		return nil, err
	}
	if o.joined != nil {
		*o.joined = wasJoined
	}
	past, live := jobs.Subscribe(j)
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		for _, ev := range past {
			out.event(ev)
		}
		for ev := range live {
			out.event(ev)
		}
	}()
	jobs.Drain(ctx)
	<-followed
	if res, _ := j.Result(); res != nil && res.HandedOff {
		if err := a.startFinisher(); err != nil {
			a.logger.Warn("could not start the process that finishes the job; the next ecssnap run finishes it", "job", res.JobID, "error", err)
		}
	}
	if st != nil {
		// The daemon bounds the job records; so does a machine where it
		// never runs.
		if _, err := st.Retain(store.Retention{Keep: a.cfg.JobRecords.Keep, MaxAge: a.cfg.JobRecords.MaxAge}); err != nil {
			a.logger.Warn("could not remove old job records", "error", err)
		}
	}
	return j.Result()
}

// openStore opens the job store, waiting for another in-process job to
// release it. Dry runs and users who may not write the store run without.
func (a *app) openStore(ctx context.Context, dryRun bool) (*store.Store, error) {
	if dryRun {
		return nil, nil
	}
	st, err := store.OpenWait(ctx, a.cfg.StateDir, store.Options{Logger: a.logger, Now: a.env.Now}, lockWait, func(err error) {
		a.logger.Info("waiting for another ecssnap job to finish", "error", err)
	})
	switch {
	case errors.Is(err, fs.ErrPermission):
		a.logger.Warn("the job store is not writable by this user; this job is not recorded", "dir", a.cfg.StateDir)
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("open the job store: %w", err)
	}
	return st, nil
}
