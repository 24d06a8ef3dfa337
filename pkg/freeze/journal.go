package freeze

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

const journalVersion = 1

// Journal records a freeze in progress, so that whoever starts next can undo
// it if its owner died. It is written before the first FIFREEZE and removed
// after the thaw is confirmed.
type Journal struct {
	Version int    `json:"version"`
	JobID   string `json:"job_id"`
	// Session identifies this one freeze: a job may freeze more than once,
	// and a guard must never act on (or remove) a later session's journal.
	Session  string         `json:"session"`
	Owner    ProcessID      `json:"owner"`
	Helper   ProcessID      `json:"helper"`
	Guard    ProcessID      `json:"guard"`
	Created  time.Time      `json:"created"`
	Deadline time.Time      `json:"deadline"` // wall clock
	Mounts   []JournalMount `json:"mounts"`
}

// ProcessID identifies a process across pid reuse: StartTime is field 22 of
// /proc/<pid>/stat (clock ticks since boot).
type ProcessID struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
}

// JournalMount is one mount to be frozen.
type JournalMount struct {
	MountPoint string `json:"mount_point"`
	Dev        string `json:"dev,omitempty"`
	FSType     string `json:"fstype,omitempty"`
}

// parseJournal decodes and validates a journal.
func parseJournal(data []byte) (Journal, error) {
	var j Journal
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&j); err != nil {
		return Journal{}, fmt.Errorf("decode freeze journal: %w", err)
	}
	if j.Version != journalVersion {
		return Journal{}, fmt.Errorf("freeze journal version %d, want %d", j.Version, journalVersion)
	}
	if len(j.Mounts) > maxMounts {
		return Journal{}, fmt.Errorf("freeze journal lists %d mounts, more than %d", len(j.Mounts), maxMounts)
	}
	for _, m := range j.Mounts {
		if !cleanAbs(m.MountPoint) {
			return Journal{}, fmt.Errorf("freeze journal: mount point %q is not clean and absolute", m.MountPoint)
		}
		if m.Dev != "" && !validDev(m.Dev) {
			return Journal{}, fmt.Errorf("freeze journal: dev %q is not major:minor", m.Dev)
		}
	}
	return j, nil
}

// readJournal returns the journal at path; a missing file is reported as
// fs.ErrNotExist (wrapped).
func readJournal(path string) (Journal, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Journal{}, fmt.Errorf("read freeze journal: %w", err)
	}
	return parseJournal(data)
}

// ErrFreezeInProgress: a journal already exists where a new freeze would
// write its own. It belongs to a freeze in progress, or to one that died and
// awaits Recover; either way, freezing on top of it would lose track of it.
var ErrFreezeInProgress = errors.New("another freeze journal exists")

// createJournal writes j to path atomically and only if no journal is
// there: a temporary file in the same directory, fsync, a hard link to the
// final name (which, unlike rename, fails if the name exists), removal of
// the temporary name, fsync of the directory. Only called while nothing is
// frozen.
func createJournal(path string, j Journal) error {
	data, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("encode freeze journal: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create journal directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".freeze-*.tmp")
	if err != nil {
		return fmt.Errorf("create temporary journal: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("write temporary journal: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync temporary journal: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w at %s%s", ErrFreezeInProgress, path, describeJournal(path))
		}
		return fmt.Errorf("publish freeze journal: %w", err)
	}
	return syncDir(dir)
}

// describeJournal names the owner of the journal at path, for an error.
func describeJournal(path string) string {
	j, err := readJournal(path)
	if err != nil {
		return ""
	}
	return fmt.Sprintf(" (job %q, owner pid %d, deadline %s)", j.JobID, j.Owner.PID, j.Deadline.Format(time.RFC3339))
}

// removeJournalIf removes the journal at path if it still names session,
// and reports whether it did. Another session's journal is never touched.
func removeJournalIf(path, session string) (bool, error) {
	j, err := readJournal(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		// Writes are atomic, so this is not ours half-written; leave it.
		return false, err
	}
	if j.Session != session {
		return false, nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("remove freeze journal: %w", err)
	}
	return true, syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open journal directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync journal directory: %w", err)
	}
	return nil
}
