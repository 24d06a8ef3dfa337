package freeze

import (
	"errors"
	"log/slog"
	"time"
)

// SelfTestOptions configure SelfTest.
type SelfTestOptions struct {
	// Exe is the binary run as helper and guard; "" means /proc/self/exe.
	Exe string
	// Dir is where the scratch directory goes; "" means os.TempDir(). It
	// must not be on a filesystem anyone needs while the test runs.
	Dir string
	// Types are the filesystem types to try; nil means ext4, xfs, btrfs.
	Types []string
	// Deadline is the freeze deadline in the recovery check; 0 means 2 s.
	Deadline time.Duration
	Logger   *slog.Logger
}

// SelfTestReport has one result per filesystem type, in the order asked.
type SelfTestReport struct {
	Results []SelfTestResult
}

// SelfTest statuses.
const (
	SelfTestSupported    = "supported"     // froze, blocked a write, thawed, recovered
	SelfTestNotSupported = "not-supported" // the kernel cannot freeze it (EOPNOTSUPP)
	SelfTestUnavailable  = "unavailable"   // no kernel support or no mkfs: not tried
	SelfTestError        = "error"         // something went wrong; see Detail
)

// SelfTestResult is the outcome for one filesystem type.
type SelfTestResult struct {
	FSType string
	Status string
	Detail string
	// Setup is the time to create and mount the loop filesystem.
	Setup time.Duration
	// Held is the helper's held time for a freeze and an immediate thaw
	// with a blocked writer in between.
	Held time.Duration
	// WriteBlocked is how long the probe write waited in the kernel.
	WriteBlocked time.Duration
	// Recovered says who thawed after the helper was SIGKILLed while
	// frozen, and RecoveryTook how long after the kill.
	Recovered    string
	RecoveryTook time.Duration
}

// ErrNotRoot: the self-test needs root for loop devices, mount and FIFREEZE.
var ErrNotRoot = errors.New("freeze selftest needs root (loop devices, mount, FIFREEZE)")
