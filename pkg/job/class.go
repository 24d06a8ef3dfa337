package job

import (
	"errors"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/imds"
)

// Error classes: what kind of failure ended a job, recorded in the result
// so that a client of the daemon, which sees only the result, exits as the
// in-process CLI would.
const (
	ClassNone        = ""
	ClassFailed      = "failed"
	ClassDegraded    = "degraded"
	ClassUnavailable = "unavailable" // not on ECS, metadata service down
	ClassTemporary   = "temporary"   // throttled, service errors: retry later
	ClassPermission  = "permission"  // RAM denial, rejected credentials
	ClassConfig      = "config"      // no credentials, bad configuration
)

// Classify sorts a job error into a class.
func Classify(err error) string {
	var (
		un  *imds.UnreachableError
		deg *DegradedError
	)
	switch {
	case err == nil:
		return ClassNone
	case errors.As(err, &deg):
		return ClassDegraded
	case errors.As(err, &un):
		return ClassUnavailable
	}
	var (
		ae   *cloud.APIError
		busy *BusyDiskError
	)
	if errors.As(err, &busy) || errors.As(err, &ae) && ae.Code == cloud.CodeCreatingSnapshot {
		return ClassTemporary // the disk's previous snapshot is still being taken
	}
	switch cloud.KindOf(err) {
	case cloud.KindThrottled, cloud.KindServer, cloud.KindTransport, cloud.KindInProgress:
		return ClassTemporary
	case cloud.KindPermission, cloud.KindAuth, cloud.KindCredentialsExpired:
		return ClassPermission
	case cloud.KindNoCredentials:
		return ClassConfig
	}
	return ClassFailed
}
