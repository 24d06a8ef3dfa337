package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ecssnap/ecssnap/agent/config"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// fail prints err as one line and returns its exit code.
func fail(w io.Writer, err error) int {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	fmt.Fprintf(w, "ecssnap: %s\n", msg)
	return exitCode(err)
}

// exitCode maps an error to the exit codes DESIGN lists.
func exitCode(err error) int {
	var (
		ue  *usageError
		ce  *config.Error
		nth *plan.NothingToDoError
		pe  *permissionError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &ce):
		return ExitConfig
	case errors.As(err, &nth):
		return ExitFailed
	case errors.As(err, &pe), errors.Is(err, localapi.ErrAccessDenied):
		// The socket's mode refused the connect, or the daemon answered
		// 403: either way the caller lacks a permission (EX_NOPERM).
		return ExitPermission
	case errors.Is(err, localapi.ErrBusy):
		// The daemon's queue or this user's request rate is at its bound.
		return ExitTemporary
	}
	var in *interruptedError
	if errors.As(err, &in) {
		return in.code()
	}
	var gone *daemonGoneError
	if errors.As(err, &gone) {
		return gone.code()
	}
	var lost *localapi.GoneError
	if errors.As(err, &lost) {
		return ExitUnavailable // a daemon that went away under a read
	}
	var remote *remoteJobError
	if errors.As(err, &remote) {
		return classExit[remote.class]
	}
	return classExit[job.Classify(err)]
}

// classExit maps job error classes to exit codes.
var classExit = map[string]int{
	job.ClassNone: ExitOK, job.ClassFailed: ExitFailed, job.ClassDegraded: ExitDegraded,
	job.ClassUnavailable: ExitUnavailable, job.ClassTemporary: ExitTemporary,
	job.ClassPermission: ExitPermission, job.ClassConfig: ExitConfig,
}

// remoteJobError is a job the daemon ran that ended in error (only its
// message and class crossed the socket), or a job another process runs
// that did not end in time.
type remoteJobError struct{ msg, class string }

func (e *remoteJobError) Error() string { return e.msg }
