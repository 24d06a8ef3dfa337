package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/ecssnap/ecssnap/agent/daemon"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/store"
)

// daemonGoneError is a request the daemon did not finish answering: it
// went away (exited, was killed or restarted) with the connection open.
// Before, the CLI printed `Post "http://local-ecssnap/v1/jobs": EOF`, exit
// 1, and `null` on stdout, although the job was recorded and the next
// daemon finished it. It says what became of the request as far as the job
// store tells.
type daemonGoneError struct {
	cause error
	// lookedUp is false when the store could not be read (not root).
	lookedUp bool
	jobID    string // the request's job, when recorded
	state    string // its state in the record
}

func (e *daemonGoneError) Error() string {
	switch {
	case e.jobID != "" && e.state == store.StateDone:
		return fmt.Sprintf("%v; job %s was recorded and is done: see `ecssnap show %s`", e.cause, e.jobID, e.jobID)
	case e.jobID != "":
		return fmt.Sprintf("%v; job %s was recorded (%s): the daemon finishes it when it starts again "+
			"(sudo systemctl start ecssnap, if systemd does not restart it): follow it with `ecssnap show %s`", e.cause, e.jobID, e.state, e.jobID)
	case e.lookedUp:
		return fmt.Sprintf("%v before it recorded a job: nothing was done; run the command again once the daemon is back (systemctl status ecssnap)", e.cause)
	}
	return fmt.Sprintf("%v; whether it recorded the job only root can tell: see `sudo ecssnap list`", e.cause)
}

func (e *daemonGoneError) Unwrap() error { return e.cause }

// code is 69 (unavailable) when the job was recorded or may have been:
// running the command again would make a second job; 75 (temporary) when
// nothing was recorded and running it again is the thing to do.
func (e *daemonGoneError) code() int {
	if e.jobID == "" && e.lookedUp {
		return ExitTemporary
	}
	return ExitUnavailable
}

// goneLookup is how long the CLI looks for a daemon that comes back to
// ask it about the request, before it reads the store itself.
const goneLookup = 3 * time.Second

// daemonGone finds what became of a request the daemon stopped answering:
// the job it made (known by ID, or recorded with this process as its
// caller since the request was sent) in the store, asked of a restarted
// daemon or read directly.
func (a *app) daemonGone(ctx context.Context, creq localapi.CreateJobRequest, sent time.Time, knownID string, cause error) error {
	e := &daemonGoneError{cause: cause, jobID: knownID}
	match := func(v *localapi.JobView) bool {
		if knownID != "" {
			return v.ID == knownID
		}
		// The daemon records the caller from the socket's peer
		// credentials, so this process's pid marks its request; a request
		// that joined a job of its session is found by the session.
		fresh := !v.Created.Before(sent.Add(-time.Second))
		mine := v.Caller != nil && v.Caller.PID == os.Getpid()
		joined := creq.Session != "" && v.Session == creq.Session && !v.Updated.Before(sent.Add(-time.Second))
		return (fresh && mine) || joined
	}
	views, err := a.findJobs(ctx)
	if err != nil {
		a.logger.Debug("could not look the request up", "error", err)
		return e
	}
	e.lookedUp = true
	for _, v := range views {
		if match(v) {
			e.jobID, e.state = v.ID, v.State
			break
		}
	}
	return e
}

// findJobs returns recent jobs from a daemon that answers again within
// goneLookup, else from the store read directly.
func (a *app) findJobs(ctx context.Context) ([]*localapi.JobView, error) {
	client := localapi.NewClient(a.cfg.Socket)
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(goneLookup)
	for {
		views, err := client.ListJobs(ctx, 50)
		if err == nil {
			return views, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil || errors.Is(err, localapi.ErrAccessDenied) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	st, err := store.OpenReadOnly(a.cfg.StateDir, store.Options{Logger: a.logger})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer st.Close()
	recs, err := st.List(store.ListOptions{Limit: 50})
	if err != nil {
		return nil, err
	}
	views := make([]*localapi.JobView, len(recs))
	for i, r := range recs {
		views[i] = daemon.RecordView(r)
	}
	return views, nil
}

// stoppedFollowing is a caller interrupted while the daemon runs its job:
// the daemon makes the job's snapshots, and stops waiting for them once
// nobody follows it.
func stoppedFollowing(in *Interrupted, id string) error {
	return &interruptedError{sig: in.Signal, jobID: id, msg: fmt.Sprintf("%s while following job %s: the job is not cancelled, "+
		"its snapshots go on in the cloud: follow it with `ecssnap show %s`", in, id, id)}
}

// errorDocument is what --json prints when a command ends without a
// job result (the daemon went away, the request was refused): valid JSON,
// with the fields a result has.
type errorDocument struct {
	JobID      string `json:"job_id,omitempty"`
	Outcome    string `json:"outcome"`
	Error      string `json:"error"`
	ErrorClass string `json:"error_class,omitempty"`
	ExitCode   int    `json:"exit_code"`
}

func newErrorDocument(err error) errorDocument {
	d := errorDocument{Outcome: "failed", Error: err.Error(), ExitCode: exitCode(err)}
	var gone *daemonGoneError
	if errors.As(err, &gone) && gone.jobID != "" {
		d.JobID, d.Outcome = gone.jobID, "unknown"
	}
	for class, code := range classExit {
		if code == d.ExitCode && class != job.ClassNone {
			d.ErrorClass = class
		}
	}
	var in *interruptedError
	if errors.As(err, &in) {
		d.JobID, d.Outcome, d.ErrorClass = in.jobID, "interrupted", "interrupted"
	}
	return d
}
