package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ecssnap/ecssnap/pkg/job"
)

// SignalContext returns a context that ends on SIGINT or SIGTERM with an
// *Interrupted cause, so that the command can say it was interrupted, and
// by what, instead of reporting whatever the cancelled call failed with
// (before, a wait interrupted after 3 s said "still progressing after
// 1h0m0s", an identify "metadata service unreachable"). As with
// signal.NotifyContext, later signals are caught until stop is called.
func SignalContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			if sig, ok := s.(syscall.Signal); ok {
				cancel(&Interrupted{Signal: sig})
				return
			}
			cancel(&Interrupted{Signal: syscall.SIGINT})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(context.Canceled)
	}
}

// Interrupted is the cause of a context a signal ended.
type Interrupted struct{ Signal syscall.Signal }

func (e *Interrupted) Error() string { return "interrupted by " + signalName(e.Signal) }

// Is makes an interruption a cancellation for code that checks for one.
func (e *Interrupted) Is(target error) bool { return target == context.Canceled }

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// interruption returns the signal that ended ctx, if one did.
func interruption(ctx context.Context) *Interrupted {
	var in *Interrupted
	if errors.As(context.Cause(ctx), &in) {
		return in
	}
	return nil
}

// interruptedError is a command a signal stopped; it exits 128 + the
// signal's number, as a shell reports it (130 for SIGINT, 143 for SIGTERM).
type interruptedError struct {
	sig   syscall.Signal
	msg   string
	jobID string // the job it concerned, if one was made
}

func (e *interruptedError) Error() string { return e.msg }

func (e *interruptedError) code() int { return 128 + int(e.sig) }

// asInterrupted turns err, from a command ctx's signal stopped, into an
// *interruptedError that says so; other errors pass unchanged.
func asInterrupted(ctx context.Context, err error) error {
	in := interruption(ctx)
	var already *interruptedError
	if in == nil || err == nil || errors.As(err, &already) {
		return err
	}
	if errors.Is(err, in) {
		// The error already says it was this signal.
		return &interruptedError{sig: in.Signal, msg: err.Error()}
	}
	return &interruptedError{sig: in.Signal, msg: fmt.Sprintf("%s: %v", in, err)}
}

// jobInterrupted says what a signal left of a job the engine ran in this
// process: a wait cut short (the snapshots go on in the cloud), snapshots
// created, or nothing made yet.
func jobInterrupted(ctx context.Context, res *job.Result, err error) error {
	in := interruption(ctx)
	var already *interruptedError
	if in == nil || err == nil || errors.As(err, &already) {
		return err
	}
	var wait *job.WaitInterruptedError
	switch {
	case errors.As(err, &wait):
		return &interruptedError{sig: in.Signal, jobID: wait.JobID, msg: wait.Error()}
	case res == nil:
		return asInterrupted(ctx, err)
	case unanswered(res) > 0:
		// A create may have taken effect without its answer: the job is
		// kept unfinished, and the next run repeats the call with the same
		// ClientToken to learn what exists.
		return &interruptedError{sig: in.Signal, jobID: res.JobID, msg: fmt.Sprintf("%s while %d create calls had no answer yet: "+
			"the next ecssnap run (or the daemon's next start) settles them with the same tokens, never making a second snapshot: "+
			"see `ecssnap show %s`", in, unanswered(res), res.JobID)}
	case createdCount(res) > 0:
		return &interruptedError{sig: in.Signal, jobID: res.JobID, msg: fmt.Sprintf("%s after %d snapshots were created (%v): "+
			"they continue in the cloud: follow them with `ecssnap show %s`", in, createdCount(res), err, res.JobID)}
	}
	return &interruptedError{sig: in.Signal, jobID: res.JobID, msg: fmt.Sprintf("%s before any snapshot was created: "+
		"nothing was made (job %s is recorded as %s)", in, res.JobID, res.Outcome)}
}

// unanswered counts the create calls sent (recorded) without an answer.
func unanswered(res *job.Result) int {
	n := 0
	for _, c := range res.Creates {
		if c.ID == "" {
			n++
		}
	}
	return n
}

func createdCount(res *job.Result) int {
	n := 0
	for _, s := range res.Snapshots {
		if s.SnapshotID != "" {
			n++
		}
	}
	return n
}
