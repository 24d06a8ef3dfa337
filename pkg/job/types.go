package job

import (
	"encoding/json"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/hooks"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// Request is what a caller asks of one job.
type Request struct {
	// JobID names the job; empty makes a new ID.
	JobID   string
	Reason  string
	Trigger string // manual, apt, dnf, ...; defaults to manual
	Disks   plan.Selection
	Mounts  []string // --mount: the filesystems to snapshot (with their disks)
	// AllowInconsistent accepts a filesystem spanning disks that can be
	// neither grouped nor frozen; recorded in the result and the tags.
	AllowInconsistent bool
	// Consistency is the level wanted (LevelDefault: fs where freezing is
	// possible); Require the minimum below which the job fails.
	Consistency   Level
	Require       Level
	Wait          bool
	Timeout       time.Duration // for waiting; 0 means the default
	RetentionDays int           // per-disk snapshots only; 0 keeps them
	Tags          []cloud.Tag   // user tags, validated
	DryRun        bool
	// Packages are the package changes a hook asked for the snapshot
	// before ("upgrade openssl 3.0.11 -> 3.0.13"): recorded with the job,
	// not used by the engine.
	Packages []string
}

// Snapshot outcome states in a Result. Created means the create call was
// accepted; the cloud states follow.
const (
	StateCreating     = "creating"
	StateCreated      = "created"
	StateProgressing  = cloud.StatusProgressing
	StateAccomplished = cloud.StatusAccomplished
	StateFailed       = cloud.StatusFailed
	StateNotCreated   = "not-created"
	StatePlanned      = "planned"
)

// Phases of a job, as recorded in Result.FailedIn.
const (
	PhaseIdentify  = "identify"  // the metadata service: which instance, region, zone
	PhaseInventory = "inventory" // the instance's disks and the local layout
	PhasePlan      = "plan"
	PhasePreflight = "preflight" // credentials, connections, snapshots in the way, quota
	PhaseFreeze    = "freeze"    // hooks and the freeze, before any create
	PhaseCreate    = "create"
	PhaseWait      = "wait"
)

// SnapshotResult is one disk's snapshot in a job.
type SnapshotResult struct {
	DiskID      string `json:"disk_id"`
	DiskType    string `json:"disk_type"`
	Category    string `json:"category"`
	SizeGiB     int    `json:"size_gib"`
	Device      string `json:"device,omitempty"`
	Method      string `json:"method"`
	ClientToken string `json:"client_token,omitempty"`
	SnapshotID  string `json:"snapshot_id,omitempty"`
	State       string `json:"state"`
	// Consistency is the level this snapshot was taken at, once it
	// exists: its own create call decides, and its closure's weakest member.
	Consistency string `json:"consistency,omitempty"`
	Progress    int    `json:"progress"`
	Error       string `json:"error,omitempty"`
	ElapsedMS   int64  `json:"elapsed_ms"`
}

// Timings are per-phase durations in milliseconds.
type Timings struct {
	IdentifyMS  int64 `json:"identify_ms"`
	InventoryMS int64 `json:"inventory_ms"`
	PlanMS      int64 `json:"plan_ms"`
	CreateMS    int64 `json:"create_ms"`
	// FrozenMS is how long filesystems were frozen (freeze.held_ms).
	FrozenMS int64 `json:"frozen_ms"`
	WaitMS   int64 `json:"wait_ms"`
	// BlockedMS is how long the job waited, before any create, for a
	// snapshot someone else was taking of a one-at-a-time disk.
	BlockedMS int64 `json:"blocked_ms,omitempty"`
	TotalMS   int64 `json:"total_ms"`
	// ToCreatedMS is from the start of the job to the last create accepted.
	ToCreatedMS int64 `json:"to_created_ms"`
}

// Result is the job's outcome, for the CLI, JSON output and the job record.
type Result struct {
	JobID       string           `json:"job_id"`
	InstanceID  string           `json:"instance_id"`
	RegionID    string           `json:"region_id"`
	ZoneID      string           `json:"zone_id,omitempty"`
	Trigger     string           `json:"trigger"`
	Reason      string           `json:"reason,omitempty"`
	Consistency string           `json:"consistency"` // the level reached
	Desired     string           `json:"consistency_desired"`
	Required    string           `json:"consistency_required"`
	Freeze      *FreezeResult    `json:"freeze,omitempty"`
	Hooks       []hooks.Report   `json:"hooks,omitempty"`
	DryRun      bool             `json:"dry_run,omitempty"`
	Waited      bool             `json:"waited"`
	GroupID     string           `json:"group_id,omitempty"`
	GroupToken  string           `json:"group_client_token,omitempty"`
	Plan        *plan.Plan       `json:"plan,omitempty"`
	Snapshots   []SnapshotResult `json:"snapshots"`
	Creates     []CreateCall     `json:"creates,omitempty"`
	// Resumed is set when the job was finished by Resume after a crash.
	Resumed bool `json:"resumed,omitempty"`
	// WarmView is set when the job planned from the daemon's kept view
	// instead of reading the inventory; Replanned says why it then read a
	// fresh one and planned again.
	WarmView  bool   `json:"warm_view,omitempty"`
	Replanned string `json:"replanned,omitempty"`
	// HandedOff is set on a job that ended its process once its creates
	// were answered, its bookkeeping left to another (Engine.HandOff).
	HandedOff bool    `json:"handed_off,omitempty"`
	Timings   Timings `json:"timings"`
	APICalls  int64   `json:"api_calls"`
	Retries   int64   `json:"retries"`
	// APIErrors counts failed attempts by error code; APITimeMS sums the
	// time spent in API calls (parallel calls add up).
	APIErrors map[string]int64 `json:"api_errors,omitempty"`
	APITimeMS int64            `json:"api_time_ms"`
	Started   time.Time        `json:"started"`
	Finished  time.Time        `json:"finished"`
	Outcome   string           `json:"outcome"` // succeeded, failed, partial, created, timed-out, interrupted, planned
	// FailedIn is the phase a failed job stopped in (see the Phase
	// constants): a job that failed in identify never knew its instance.
	FailedIn   string   `json:"failed_in,omitempty"`
	Error      string   `json:"error,omitempty"`
	ErrorClass string   `json:"error_class,omitempty"` // see Classify
	Warnings   []string `json:"warnings,omitempty"`

	// ConsistencyWhy says why Consistency is below Desired (a dry run:
	// would be).
	ConsistencyWhy string `json:"consistency_why,omitempty"`
}

// Event is one step of a job, for progress displays and NDJSON streams.
type Event struct {
	Time       time.Time `json:"time"`
	Job        string    `json:"job"`
	Type       string    `json:"type"` // plan, create, created, progress, accomplished, failed, done
	DiskID     string    `json:"disk_id,omitempty"`
	SnapshotID string    `json:"snapshot_id,omitempty"`
	GroupID    string    `json:"group_id,omitempty"`
	Progress   int       `json:"progress,omitempty"`
	Message    string    `json:"message,omitempty"`
	// Reasons are the plan's reasons, one line each (Message joins them).
	Reasons []string `json:"reasons,omitempty"`
}

// CreatedCount is how many snapshots the job created: those the cloud
// named, and a group's members before DescribeSnapshotGroups named them
// (their create was accepted with the group's).
func (r *Result) CreatedCount() int {
	n := 0
	for _, s := range r.Snapshots {
		if s.SnapshotID != "" || s.State == StateCreated {
			n++
		}
	}
	return n
}

// Clone returns a deep copy of r, for readers that must not share it with
// a job still writing it.
func (r *Result) Clone() *Result {
	if r == nil {
		return nil
	}
	data, err := json.Marshal(r)
	if err != nil {
		return nil
	}
	out := new(Result)
	if err := json.Unmarshal(data, out); err != nil {
		return nil
	}
	return out
}
