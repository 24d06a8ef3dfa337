package restore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ecssnap/ecssnap/pkg/store"
)

// journalDir is where restore records live inside the state directory,
// beside the job store's jobs/.
const journalDir = "restores"

// Kinds of restore.
const (
	KindMount    = "mount"
	KindRollback = "rollback"
	KindImage    = "image"
)

// Record states. A record that is not done (or removed, for a mount that
// was undone) is finished or cleaned up by the next run.
const (
	StateRunning = "running" // steps in progress
	StateMounted = "mounted" // a mount in place
	StateUndoing = "undoing" // unmount in progress
	StateDone    = "done"    // rollback or image finished
	StateRemoved = "removed" // a mount undone: nothing left in the cloud
	StateFailed  = "failed"  // stopped on an error that a rerun will not fix by itself
)

// Step is one cloud call, recorded before it is made and after it returns.
type Step struct {
	Action   string    `json:"action"`
	Resource string    `json:"resource,omitempty"`
	Token    string    `json:"client_token,omitempty"`
	Started  time.Time `json:"started"`
	Done     bool      `json:"done"`
	Result   string    `json:"result,omitempty"` // e.g. the created resource's ID
	Error    string    `json:"error,omitempty"`
}

// Record is one restore as the journal keeps it.
type Record struct {
	Version    int       `json:"version"`
	ID         string    `json:"id"` // <kind>-<job>
	Kind       string    `json:"kind"`
	JobID      string    `json:"job_id"`
	InstanceID string    `json:"instance_id"`
	RegionID   string    `json:"region_id"`
	State      string    `json:"state"`
	Error      string    `json:"error,omitempty"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
	Steps      []Step    `json:"steps"`

	Rollback *RollbackState `json:"rollback,omitempty"`
	Mount    *MountState    `json:"mount,omitempty"`
	Image    *ImageState    `json:"image,omitempty"`
}

// recordVersion is the journal format this package writes.
const recordVersion = 1

// Journal is the directory of restore records. One process works on a
// record at a time, enforced by a lock per record.
type Journal struct {
	dir string
	now func() time.Time
}

// OpenJournal opens (creating, 0700) the restore journal of a state directory.
func OpenJournal(stateDir string, now func() time.Time) (*Journal, error) {
	if now == nil {
		now = time.Now
	}
	dir := filepath.Join(stateDir, journalDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open restore journal: %w (set ECSSNAP_STATE_DIR to a directory you may write)", err)
	}
	return &Journal{dir: dir, now: now}, nil
}

// JournalAt is the journal of a state directory, for reading: unlike
// OpenJournal it creates nothing, so read-only commands leave no trace.
func JournalAt(stateDir string, now func() time.Time) *Journal {
	if now == nil {
		now = time.Now
	}
	return &Journal{dir: filepath.Join(stateDir, journalDir), now: now}
}

// recordID names a restore's record.
func recordID(kind, jobID string) string { return kind + "-" + jobID }

// Lock takes the record's lock; release it with the returned function.
// A record locked by another process fails with a *store.LockedError.
func (j *Journal) Lock(kind, jobID string) (func(), error) {
	f, err := store.LockFile(filepath.Join(j.dir, recordID(kind, jobID)+".lock"))
	if err != nil {
		var le *store.LockedError
		if errors.As(err, &le) {
			return nil, &BusyError{Kind: kind, JobID: jobID, PID: le.PID}
		}
		return nil, err
	}
	return func() { _ = f.Close() }, nil
}

// BusyError is a restore that another process is working on.
type BusyError struct {
	Kind, JobID string
	PID         int
}

func (e *BusyError) Error() string {
	who := "another ecssnap"
	if e.PID > 0 {
		who = fmt.Sprintf("another ecssnap (pid %d)", e.PID)
	}
	return fmt.Sprintf("%s of job %s is in progress in %s; wait for it to finish", e.Kind, e.JobID, who)
}

// Path is the file of a record.
func (j *Journal) Path(kind, jobID string) string {
	return filepath.Join(j.dir, recordID(kind, jobID)+".json")
}

// Get reads a record; ok is false when there is none.
func (j *Journal) Get(kind, jobID string) (*Record, bool, error) {
	data, err := os.ReadFile(j.Path(kind, jobID))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read restore record: %w", err)
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, false, fmt.Errorf("restore record %s: %w", recordID(kind, jobID), err)
	}
	if r.Version > recordVersion {
		return nil, false, fmt.Errorf("restore record %s was written by a newer ecssnap (version %d)", r.ID, r.Version)
	}
	return &r, true, nil
}

// Save writes a record durably (it is on disk when Save returns).
func (j *Journal) Save(r *Record) error {
	r.Version = recordVersion
	r.ID = recordID(r.Kind, r.JobID)
	r.Updated = j.now().UTC()
	if r.Created.IsZero() {
		r.Created = r.Updated
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode restore record: %w", err)
	}
	return store.WriteFileAtomic(j.dir, r.ID+".json", append(data, '\n'))
}

// List returns every record of a kind ("" for all), oldest first.
func (j *Journal) List(kind string) ([]*Record, error) {
	entries, err := os.ReadDir(j.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list restore records: %w", err)
	}
	var out []*Record
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			continue
		}
		k, job, ok := strings.Cut(strings.TrimSuffix(name, ".json"), "-")
		if !ok || (kind != "" && k != kind) {
			continue
		}
		r, found, err := j.Get(k, job)
		if err != nil || !found {
			continue // unreadable records are left for inspection
		}
		out = append(out, r)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Created.Before(out[b].Created) })
	return out, nil
}

// step records a cloud call before it is made, runs it, and records the
// outcome. call returns the result to keep (an ID) or an error.
func (j *Journal) step(r *Record, action, resource, token string, call func() (string, error)) (string, error) {
	r.Steps = append(r.Steps, Step{Action: action, Resource: resource, Token: token, Started: j.now().UTC()})
	i := len(r.Steps) - 1
	if err := j.Save(r); err != nil {
		return "", err
	}
	res, err := call()
	r.Steps[i].Done, r.Steps[i].Result = true, res
	if err != nil {
		r.Steps[i].Error = err.Error()
	}
	if serr := j.Save(r); serr != nil && err == nil {
		return res, serr
	}
	return res, err
}
