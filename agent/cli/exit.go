package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ecssnap/ecssnap/agent/config"
	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/imds"
	"github.com/ecssnap/ecssnap/pkg/job"
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
		un  *imds.UnreachableError
		nth *plan.NothingToDoError
		deg *job.DegradedError
		pe  *permissionError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &ce):
		return ExitConfig
	case errors.As(err, &un):
		return ExitUnavailable
	case errors.As(err, &nth):
		return ExitFailed
	case errors.As(err, &deg):
		return ExitDegraded
	case errors.As(err, &pe):
		return ExitPermission
	}
	switch cloud.KindOf(err) {
	case cloud.KindThrottled, cloud.KindServer, cloud.KindTransport, cloud.KindInProgress:
		return ExitTemporary
	case cloud.KindPermission, cloud.KindAuth, cloud.KindCredentialsExpired:
		return ExitPermission
	case cloud.KindNoCredentials:
		return ExitConfig
	}
	return ExitFailed
}
