package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// RecordVersion is the version of the record format this package writes.
// Bump it when a field changes meaning; adding a field does not need it,
// because the decoder ignores fields it does not know.
const RecordVersion = 1

// Job states, in the order a job passes through them. Only StateDone is
// final: a record in any other state is reconciled when the daemon starts.
const (
	StateQueued  = "queued"
	StateRunning = "running"
	StateCreated = "created" // every create call accepted; tokens recorded
	StateWaiting = "waiting" // waiting for the cloud to finish the snapshots
	StateDone    = "done"
)

var knownStates = map[string]bool{
	StateQueued: true, StateRunning: true, StateCreated: true, StateWaiting: true, StateDone: true,
}

// Record is one job as the store keeps it.
type Record struct {
	Version  int           `json:"version"`
	ID       string        `json:"id"`
	State    string        `json:"state"`
	Request  RequestRecord `json:"request"`
	Result   *job.Result   `json:"result,omitempty"`
	Caller   Caller        `json:"caller"`
	Session  string        `json:"session,omitempty"` // coalescing key, e.g. frontend pid and start time
	Created  time.Time     `json:"created"`
	Updated  time.Time     `json:"updated"`
	Attempts int           `json:"attempts"` // runs of the job on record: a run that ended before its first record (a crash before its creates) is not counted
	Error    string        `json:"error,omitempty"`
	// Joined are the later requests that joined this job instead of
	// running their own (the newest MaxJoined of them); JoinedCount counts
	// them all.
	Joined      []Joiner `json:"joined,omitempty"`
	JoinedCount int      `json:"joined_count,omitempty"`
}

// MaxJoined bounds the joiners a record lists (unattended-upgrades may
// join one job hundreds of times).
const MaxJoined = 32

// Joiner is a request that joined a job: who asked, when, and for what.
type Joiner struct {
	Caller  Caller    `json:"caller"`
	Time    time.Time `json:"time"`
	Trigger string    `json:"trigger,omitempty"`
	Session string    `json:"session,omitempty"`
}

// AddJoiner records j, keeping the newest MaxJoined.
func (r *Record) AddJoiner(j Joiner) {
	r.JoinedCount++
	r.Joined = append(r.Joined, j)
	if len(r.Joined) > MaxJoined {
		r.Joined = r.Joined[len(r.Joined)-MaxJoined:]
	}
}

// Finished reports whether the job has reached its final state.
func (r *Record) Finished() bool { return r.State == StateDone }

// Caller is the process that asked for the job, from its peer credentials.
type Caller struct {
	UID     int    `json:"uid"`
	GID     int    `json:"gid"`
	PID     int    `json:"pid"`
	Cmdline string `json:"cmdline,omitempty"`
}

// RequestRecord is job.Request with a stable JSON form (levels by name,
// the timeout in milliseconds), plus the queueing option Force.
type RequestRecord struct {
	Reason            string         `json:"reason,omitempty"`
	Trigger           string         `json:"trigger,omitempty"`
	Disks             plan.Selection `json:"disks"`
	Mounts            []string       `json:"mounts,omitempty"`
	AllowInconsistent bool           `json:"allow_inconsistent,omitempty"`
	Consistency       string         `json:"consistency,omitempty"` // crash, fs, app; "" is the default
	Require           string         `json:"require,omitempty"`
	Wait              bool           `json:"wait,omitempty"`
	TimeoutMS         int64          `json:"timeout_ms,omitempty"`
	RetentionDays     int            `json:"retention_days,omitempty"`
	Tags              []cloud.Tag    `json:"tags,omitempty"`
	DryRun            bool           `json:"dry_run,omitempty"`
	Force             bool           `json:"force,omitempty"`
	// Packages are the package changes of the hooks' requests that asked
	// for (or joined) the job.
	Packages []string `json:"packages,omitempty"`
}

// RequestFromJob records r. Force is the caller's to fill.
func RequestFromJob(r job.Request) RequestRecord {
	return RequestRecord{
		Reason: r.Reason, Trigger: r.Trigger, Disks: r.Disks, Mounts: r.Mounts,
		AllowInconsistent: r.AllowInconsistent, Consistency: levelName(r.Consistency), Require: levelName(r.Require),
		Wait: r.Wait, TimeoutMS: r.Timeout.Milliseconds(), RetentionDays: r.RetentionDays,
		Tags: r.Tags, DryRun: r.DryRun, Packages: r.Packages,
	}
}

// Job returns the engine request recorded in r. It fails only for a level
// name this version does not know, which DecodeRecord and Save refuse.
func (r RequestRecord) Job() (job.Request, error) {
	consistency, require, err := job.ParseLevels(r.Consistency, r.Require)
	if err != nil {
		return job.Request{}, err
	}
	return job.Request{
		Reason: r.Reason, Trigger: r.Trigger, Disks: r.Disks, Mounts: r.Mounts,
		AllowInconsistent: r.AllowInconsistent, Consistency: consistency, Require: require,
		Wait: r.Wait, Timeout: time.Duration(r.TimeoutMS) * time.Millisecond, RetentionDays: r.RetentionDays,
		Tags: r.Tags, DryRun: r.DryRun, Packages: r.Packages,
	}, nil
}

// levelName is "" for the default level, so that records stay readable
// by name and the default stays distinguishable from an explicit choice.
func levelName(l job.Level) string {
	if l == job.LevelDefault {
		return ""
	}
	return l.String()
}

// ErrNewerVersion marks a record written by a newer ecssnap. It is skipped,
// not quarantined: a downgrade must not destroy the newer version's history.
var ErrNewerVersion = errors.New("record written by a newer ecssnap")

// DecodeRecord parses and validates one record file. It is a pure function
// so that the fuzz target exercises exactly what Open and List run.
func DecodeRecord(data []byte) (*Record, error) {
	// Peek at the version first, so that a newer format is recognised even
	// when its fields no longer decode into this version's types.
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("decode record: %w", err)
	}
	if head.Version > RecordVersion {
		return nil, fmt.Errorf("version %d, this ecssnap reads up to %d: %w", head.Version, RecordVersion, ErrNewerVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var r Record
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decode record: %w", err)
	}
	// One value per file: anything after it means two writes got mixed.
	if dec.More() {
		return nil, errors.New("decode record: data after the record")
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// EncodeRecord renders r as the store writes it.
func EncodeRecord(r *Record) ([]byte, error) {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode record %q: %w", r.ID, err)
	}
	return append(data, '\n'), nil
}

func (r *Record) validate() error {
	switch {
	case r.Version < 1 || r.Version > RecordVersion:
		return fmt.Errorf("record %q: unsupported version %d", r.ID, r.Version)
	case !ValidID(r.ID):
		return fmt.Errorf("record: invalid job ID %q", r.ID)
	case !knownStates[r.State]:
		return fmt.Errorf("record %q: unknown state %q", r.ID, r.State)
	case r.Created.IsZero():
		return fmt.Errorf("record %q: no creation time", r.ID)
	}
	if _, err := r.Request.Job(); err != nil {
		return fmt.Errorf("record %q: %w", r.ID, err)
	}
	return nil
}

// maxIDLen keeps "<id>.json" plus the temp suffix well under NAME_MAX.
const maxIDLen = 128

// ValidID reports whether id can name a record: it becomes a file name, so
// only letters, digits, '.', '_' and '-' are allowed, and no leading dot.
func ValidID(id string) bool {
	if id == "" || len(id) > maxIDLen || id[0] == '.' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}
