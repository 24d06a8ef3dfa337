package localapi

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// Host is the only Host header the server accepts besides none at all. The
// client always sends it; a browser or proxy tricked into forwarding a
// request to the socket sends some other name and is refused.
const Host = "local-ecssnap"

// How long POST /v1/jobs holds the response.
const (
	WaitNone      = "none"      // answer once the job is queued or joined
	WaitCreated   = "created"   // answer once every snapshot create call is accepted
	WaitCompleted = "completed" // answer once the job is done
)

// Caller is the process on the other end of a connection, as the kernel
// reported it (SO_PEERCRED) when it connected. Nothing a client sends can
// change it.
type Caller struct {
	UID     int    `json:"uid"`
	GID     int    `json:"gid"`
	PID     int    `json:"pid"`
	Groups  []int  `json:"groups,omitempty"`  // supplementary groups, from /proc/<pid>/status
	Cmdline string `json:"cmdline,omitempty"` // from /proc/<pid>/cmdline, NULs as spaces
}

// CreateJobRequest is the body of POST /v1/jobs: job.Request's fields plus
// the daemon's queueing options.
type CreateJobRequest struct {
	Reason  string         `json:"reason,omitempty"`
	Trigger string         `json:"trigger,omitempty"` // manual, apt, dnf, ...
	Disks   plan.Selection `json:"disks"`
	Wait    string         `json:"wait,omitempty"` // WaitNone (default), WaitCreated or WaitCompleted
	// Complete makes the job follow its snapshots to completion even when
	// the response does not wait for it (a client streaming the events).
	Complete      bool        `json:"complete,omitempty"`
	Timeout       Duration    `json:"timeout,omitempty"`
	RetentionDays int         `json:"retention_days,omitempty"`
	Tags          []cloud.Tag `json:"tags,omitempty"`
	DryRun        bool        `json:"dry_run,omitempty"`
	Mounts        []string    `json:"mounts,omitempty"`
	// Consistency and Require are level names (crash, fs, app); "" is the
	// default level.
	Consistency       string `json:"consistency,omitempty"`
	Require           string `json:"require,omitempty"`
	AllowInconsistent bool   `json:"allow_inconsistent,omitempty"`
	// Force makes a new job even where the request would join another.
	Force bool `json:"force,omitempty"`
	// Session is the coalescing key, e.g. the package manager's pid and
	// start time: requests of one session join one job.
	Session string `json:"session,omitempty"`
	// Cmdline is what the client says started it (a hook shim names the
	// package-manager command). It is logged beside the peer's real command
	// line and never used for authorization.
	Cmdline string `json:"cmdline,omitempty"`
	// Packages are the package changes the request is for (hooks); a
	// request that joins a job adds its own to the job's.
	Packages []string `json:"packages,omitempty"`
}

// Limits of a request's package list, so that one request cannot make the
// job record unbounded; together at most half of DefaultMaxBody.
const (
	MaxPackages    = 2000
	MaxPackageLine = 256
)

// Limits of the queueing fields, so that one request cannot make the job
// record or the log line unbounded.
const (
	MaxSession = 256
	MaxCmdline = 4096
)

// Validate checks what the API layer can check without the instance. The
// job's own fields are checked by job.Request.Validate, the same check the
// command line makes, so the API accepts nothing the CLI refuses.
func (r *CreateJobRequest) Validate() error {
	switch r.Wait {
	case "", WaitNone, WaitCreated, WaitCompleted:
	default:
		return fmt.Errorf("wait %.20q: expected %q, %q or %q", r.Wait, WaitNone, WaitCreated, WaitCompleted)
	}
	if len(r.Session) > MaxSession {
		return fmt.Errorf("session: %d bytes, at most %d", len(r.Session), MaxSession)
	}
	if len(r.Cmdline) > MaxCmdline {
		return fmt.Errorf("cmdline: %d bytes, at most %d", len(r.Cmdline), MaxCmdline)
	}
	if len(r.Packages) > MaxPackages {
		return fmt.Errorf("packages: %d entries, at most %d", len(r.Packages), MaxPackages)
	}
	for _, p := range r.Packages {
		if len(p) > MaxPackageLine {
			return fmt.Errorf("packages: an entry of %d bytes, at most %d", len(p), MaxPackageLine)
		}
	}
	jr, err := r.JobRequest()
	if err != nil {
		return err
	}
	return jr.Validate()
}

// JobRequest is the engine's request for r; it fails for an unknown level.
func (r *CreateJobRequest) JobRequest() (job.Request, error) {
	consistency, require, err := job.ParseLevels(r.Consistency, r.Require)
	if err != nil {
		return job.Request{}, err
	}
	return job.Request{
		Reason: r.Reason, Trigger: r.Trigger, Disks: r.Disks, Mounts: r.Mounts,
		AllowInconsistent: r.AllowInconsistent, Consistency: consistency, Require: require,
		Wait: r.Wait == WaitCompleted || r.Complete, Timeout: time.Duration(r.Timeout), RetentionDays: r.RetentionDays,
		Tags: r.Tags, DryRun: r.DryRun, Packages: r.Packages,
	}, nil
}

// PlanRequest is the body of POST /v1/plan.
type PlanRequest struct {
	Disks             plan.Selection `json:"disks"`
	Mounts            []string       `json:"mounts,omitempty"`
	Trigger           string         `json:"trigger,omitempty"`
	AllowInconsistent bool           `json:"allow_inconsistent,omitempty"`
}

// Validate checks the selection, mounts and trigger as a job request's.
func (r *PlanRequest) Validate() error {
	return job.Request{Disks: r.Disks, Mounts: r.Mounts, Trigger: r.Trigger}.Validate()
}

// JobView is a job as the API shows it.
type JobView struct {
	ID      string `json:"id"`
	State   string `json:"state"` // queued, running, created, waiting, done
	Trigger string `json:"trigger,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Session string `json:"session,omitempty"`
	// Packages are the package changes the job was taken before.
	Packages []string  `json:"packages,omitempty"`
	Joined   bool      `json:"joined,omitempty"` // the request joined an existing job
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	Caller   *Caller   `json:"caller,omitempty"`
	// JoinedBy are the later requests that joined the job (the newest of
	// them); JoinedCount counts them all.
	JoinedBy    []Joiner    `json:"joined_by,omitempty"`
	JoinedCount int         `json:"joined_count,omitempty"`
	Result      *job.Result `json:"result,omitempty"`
	Error       string      `json:"error,omitempty"`
}

// Joiner is a request that joined a job instead of running its own.
type Joiner struct {
	Caller  Caller    `json:"caller"`
	Time    time.Time `json:"time"`
	Trigger string    `json:"trigger,omitempty"`
	Session string    `json:"session,omitempty"`
}

// Health is the body of GET /v1/health.
type Health struct {
	Status     string    `json:"status"` // ok or degraded
	Version    string    `json:"version,omitempty"`
	PID        int       `json:"pid"`
	Started    time.Time `json:"started"`
	RunningJob string    `json:"running_job,omitempty"`
	Queued     int       `json:"queued"`
	Problems   []string  `json:"problems,omitempty"`
}

// jobList is the body of GET /v1/jobs; an object rather than a bare array
// so that fields (a cursor, say) can be added later.
type jobList struct {
	Jobs []*JobView `json:"jobs"`
}

// Duration is a time.Duration that travels as a Go duration string ("10m"),
// which is what people type and read in hook scripts and logs.
type Duration time.Duration

// MarshalJSON renders d as "1h30m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	// Not wrapped: encoding/json would report the inner type error as the
	// problem, hiding which value was wrong.
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration %s must be a string like \"10m\"", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}
