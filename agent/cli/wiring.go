package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/freeze"
	"github.com/ecssnap/ecssnap/pkg/hooks"
	"github.com/ecssnap/ecssnap/pkg/imds"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/retention"
	"github.com/ecssnap/ecssnap/pkg/topology"
)

// metadataHost is the address credentials-go reaches the metadata service at;
// it must bypass any HTTP proxy configured for API traffic.
const metadataHost = "100.100.100.200"

// identityFile is where, under the state directory, the identity is kept
// for the processes of one boot (imds.Config.IdentityFile).
const identityFile = "identity.json"

// metadata returns the app's one metadata client. The daemon builds an
// engine per job; with a client per engine every job read the identity
// again, and a job that started while the metadata service was briefly
// unreachable failed although the identity never changes (found by make
// soak). A failed read is not cached, so the first job still retries.
// The identity is also kept in the state directory for the later
// processes of this boot: an in-process job then sends its first API call
// without waiting for the metadata service.
func (a *app) metadata() *imds.Client {
	a.mdOnce.Do(func() {
		a.md = imds.New(imds.Config{
			Endpoint:       a.cfg.MetadataEndpoint,
			AllowTokenless: a.cfg.MetadataTokenless,
			Logger:         a.logger,
			IdentityFile:   filepath.Join(a.cfg.StateDir, identityFile),
		})
	})
	return a.md
}

func (a *app) newCloud(region string) (*cloud.Client, error) {
	bypassProxyForMetadata(a.env.Getenv)
	var idle time.Duration
	if a.keep.on {
		idle = keptIdle
	}
	return cloud.New(cloud.Config{
		IdleConnTimeout:  idle,
		Region:           region,
		Endpoint:         a.cfg.APIEndpoint,
		MetadataEndpoint: a.cfg.MetadataEndpoint,
		ConnectTimeout:   a.cfg.API.ConnectTimeout,
		ReadTimeout:      a.cfg.API.ReadTimeout,
		Retry:            cloud.RetryPolicy{Budget: a.cfg.API.RetryBudget, ThrottleBudget: a.cfg.API.ThrottleBudget},
		Logger:           a.logger,
	})
}

// bypassProxyForMetadata adds the metadata address to NO_PROXY when a proxy
// is configured: credentials-go fetches RAM-role credentials from it through
// a transport that honours HTTP_PROXY, and a proxy cannot answer for this
// instance. ECSSNAP_METADATA_VIA_PROXY=1 keeps the proxy (tests and
// emulators that stand in for the metadata service that way).
func bypassProxyForMetadata(getenv func(string) string) {
	if getenv("ECSSNAP_METADATA_VIA_PROXY") == "1" {
		return
	}
	if getenv("HTTP_PROXY") == "" && getenv("http_proxy") == "" {
		return
	}
	for _, key := range []string{"NO_PROXY", "no_proxy"} {
		cur := getenv(key)
		if strings.Contains(cur, metadataHost) {
			continue
		}
		if cur != "" {
			cur += ","
		}
		os.Setenv(key, cur+metadataHost)
	}
}

// engine wires a job engine from the configuration.
func (a *app) engine(emit func(job.Event)) *job.Engine {
	md := a.metadata()
	return &job.Engine{
		Metadata: md,
		Local: job.Local{
			Discover:             topology.New(a.cfg.Root).Discover,
			DiskSerials:          md.DiskSerials,
			DeviceOverrides:      a.cfg.TestDeviceMap,
			AllowDeviceOverrides: a.cfg.TestDeviceMapEnabled,
		},
		NewCloud: func(region string) (job.Cloud, error) {
			return a.cloudFor(region)
		},
		Freezing: a.freezing(),
		Hooks: &hooks.Runner{Dir: a.cfg.Hooks.Dir, ScriptTimeout: a.cfg.Hooks.ScriptTimeout,
			TotalTimeout: a.cfg.Hooks.TotalTimeout, Logger: a.logger},
		MakeRoom:       a.makeRoom,
		QuotaRoom:      a.quotaRoom,
		Limits:         a.cfg.GroupLimits,
		Now:            a.env.Now,
		Logger:         a.logger,
		Emit:           emit,
		DefaultTimeout: a.cfg.WaitTimeout,
		Defaults:       a.requestDefaults(),
	}
}

// requestDefaults are the configured values for what a request leaves
// out; the daemon applies them to the local API's requests as the command
// line does to its own.
func (a *app) requestDefaults() job.Defaults {
	// config.Load validated the name.
	level, _ := job.ParseLevel(a.cfg.Consistency)
	return job.Defaults{Consistency: level, RetentionDays: a.cfg.Retention.RetentionDays}
}

// makeRoom evicts managed snapshots from disks at their quota.
func (a *app) makeRoom(ctx context.Context, c job.Cloud, instanceID string, disks []string) error {
	rc, ok := c.(retention.Cloud)
	if !ok {
		return nil
	}
	rep, err := retention.MakeRoom(ctx, rc, instanceID, disks, a.cfg.QuotaPerDisk, a.cfg.Retention, retention.Options{Logger: a.logger})
	for _, d := range rep.Deleted {
		a.logger.Info("evicted a managed snapshot job to make room", "kind", d.Kind, "id", d.ID, "job", d.Job)
	}
	return err
}

// quotaRoom tells in one call whether every disk of the instance surely
// has room for one more manual snapshot: the instance's disks hold fewer
// manual snapshots in all than one disk may hold. A disk moved here from
// another instance may hold snapshots this count misses; its create is
// then refused for quota; a job planned from the daemon's warm view then
// plans again, counting per disk (in process the job fails and says why).
func (a *app) quotaRoom(ctx context.Context, c job.Cloud, instanceID string) (bool, error) {
	counter, ok := c.(interface {
		CountManualSnapshots(ctx context.Context, instanceID string) (int, error)
	})
	if !ok {
		return false, nil
	}
	n, err := counter.CountManualSnapshots(ctx, instanceID)
	if err != nil {
		return false, err
	}
	return n < a.quota(), nil
}

// quota is the per-disk manual snapshot quota ecssnap assumes.
func (a *app) quota() int {
	if a.cfg.QuotaPerDisk > 0 {
		return a.cfg.QuotaPerDisk
	}
	return retention.DefaultManualSnapshotQuota
}

// prune applies retention once.
func (a *app) prune(ctx context.Context, dryRun bool) (retention.Report, error) {
	id, cl, err := a.identify(ctx)
	if err != nil {
		return retention.Report{}, err
	}
	return retention.Prune(ctx, cl, id.InstanceID, a.cfg.Retention, retention.Options{DryRun: dryRun, Logger: a.logger})
}

// freezing returns the freeze configuration. The ioctls need root
// (CAP_SYS_ADMIN); that is checked when a job is about to freeze, so that
// `ecssnap plan` shows every user what `sudo snapshot-now` would do.
func (a *app) freezing() job.Freezing {
	return job.Freezing{
		// "" re-executes /proc/self/exe, which stays valid even if a
		// package upgrade replaces the binary meanwhile.
		Freezer:     freeze.NewHelperFreezer("", a.logger),
		Deadline:    a.cfg.Freeze.Deadline,
		JournalPath: a.cfg.Freeze.Journal,
		Check: func() error {
			if os.Geteuid() != 0 {
				return &permissionError{"freezing filesystems needs root: run it with sudo, or pass --consistency crash"}
			}
			return nil
		},
	}
}

// permissionError is refused for lack of privilege; exit 77.
type permissionError struct{ msg string }

func (e *permissionError) Error() string { return e.msg }

// recoverFreeze thaws whatever a crashed ecssnap left frozen: every start
// does this before anything else.
func (a *app) recoverFreeze(ctx context.Context) {
	rep, err := freeze.Recover(ctx, a.cfg.Freeze.Journal, a.logger)
	switch {
	case err != nil && !errors.Is(err, errors.ErrUnsupported):
		a.logger.Warn("freeze journal recovery failed", "journal", a.cfg.Freeze.Journal, "error", err)
	case rep.Action == freeze.RecoverThawed:
		a.logger.Warn("thawed filesystems a previous ecssnap left frozen", "job", rep.JobID, "mounts", len(rep.Mounts))
	}
}

// identify returns the instance identity and a cloud client for its region.
func (a *app) identify(ctx context.Context) (imds.Identity, *cloud.Client, error) {
	id, err := a.metadata().Identity(ctx)
	if err != nil {
		return id, nil, err
	}
	cl, err := a.newCloud(id.RegionID)
	return id, cl, err
}
