// Package store keeps ecssnap's job records in a state directory
// (/var/lib/ecssnap in production) so that a daemon killed at any instant
// restarts knowing every job it accepted and every ClientToken it used.
//
// Each job is one JSON file, jobs/<id>.json, replaced atomically on every
// Save (temp file, fsync, rename, fsync of the directory). One file per job
// rather than an append-only log: a torn write can only hit the temp file,
// so a crash never damages a committed record; a record that is somehow
// unreadable costs that one job, not the log behind it; and pruning is a
// file removal instead of a compaction. Jobs come at human rates, so the two
// fsyncs per Save are cheap. Beside jobs/, jobs.index caches which records
// are finished, so that opening a store with a long history reads only the
// unfinished ones (index.go).
//
// One process writes a store at a time, enforced by flock on store.lock.
// Readers (ecssnap list and show while the daemon runs) use OpenReadOnly,
// which takes no lock and never modifies the directory.
package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Names inside the state directory.
const (
	jobsDir      = "jobs"
	lockName     = "store.lock"
	recordSuffix = ".json"
	// corruptSuffix marks a record that failed to decode, moved aside so
	// that it is kept for inspection but no longer read.
	corruptSuffix = ".corrupt"
)

var (
	// ErrNotFound means no record has the requested ID.
	ErrNotFound = errors.New("job not found")
	// ErrLocked means another process holds the store; see LockedError.
	ErrLocked = errors.New("job store is locked by another process")
	// ErrReadOnly is returned by writes to a store opened with OpenReadOnly.
	ErrReadOnly = errors.New("job store is open read-only")
	// ErrClosed is returned by any use of a closed Store.
	ErrClosed = errors.New("job store is closed")
	// ErrCorrupt marks a record file that does not decode.
	ErrCorrupt = errors.New("job record is corrupt")
)

// LockedError says which process holds the store. errors.Is(err, ErrLocked)
// matches it.
type LockedError struct {
	Path string // the lock file
	PID  int    // the holder as it recorded itself; 0 if unknown
}

func (e *LockedError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = fmt.Sprintf("another process (pid %d)", e.PID)
	}
	return fmt.Sprintf("job store %s is in use by %s, usually the ecssnap daemon: "+
		"talk to the daemon, or stop it first (sudo systemctl stop ecssnap)", filepath.Dir(e.Path), holder)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Options are a Store's dependencies.
type Options struct {
	Logger *slog.Logger     // nil discards
	Now    func() time.Time // nil means time.Now
}

// Store is a directory of job records. It is safe for concurrent use.
type Store struct {
	dir      string // the state directory
	jobs     string // dir/jobs
	log      *slog.Logger
	now      func() time.Time
	readOnly bool

	mu     sync.Mutex
	lock   *os.File // nil when read-only or closed
	closed bool
	// index mirrors the records on disk for a writable store, which is the
	// only writer while it holds the lock. Read-only stores scan instead.
	index map[string]entry
	// indexLines counts the lines of the index file (index.go).
	indexLines int
}

// entry is what List, Unfinished and Prune need without reading a file.
type entry struct {
	created time.Time
	state   string
}

// Open opens the store in dir for writing, creating dir (0700) if needed.
// It fails with an error matching ErrLocked while another process has it
// open. Temp files left by a crash are removed, and records that do not
// decode are logged and moved aside to <name>.corrupt.
func Open(dir string, opts Options) (*Store, error) {
	s := newStore(dir, opts, false)
	if err := os.MkdirAll(s.jobs, 0o700); err != nil {
		return nil, fmt.Errorf("open job store: %w", err)
	}
	lock, err := lockFile(filepath.Join(dir, lockName))
	if err != nil {
		return nil, err
	}
	s.lock = lock
	sc, err := s.entries(true)
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	s.index, s.indexLines = sc.idx, sc.lines
	if sc.rewrite {
		s.writeIndex()
	}
	return s, nil
}

// OpenReadOnly opens an existing store for reading without taking the lock,
// so that it works while the daemon runs. Every read scans the directory,
// so it sees the daemon's latest writes. A missing directory is an error
// matching fs.ErrNotExist.
func OpenReadOnly(dir string, opts Options) (*Store, error) {
	s := newStore(dir, opts, true)
	if _, err := os.Stat(s.jobs); err != nil {
		return nil, fmt.Errorf("open job store: %w", err)
	}
	return s, nil
}

func newStore(dir string, opts Options, readOnly bool) *Store {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{
		dir: dir, jobs: filepath.Join(dir, jobsDir), readOnly: readOnly,
		log: opts.Logger.With("store", dir), now: opts.Now,
	}
}

// Dir returns the state directory.
func (s *Store) Dir() string { return s.dir }

// Close releases the lock. Records are durable already; Close only ends use.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.lock == nil {
		return nil
	}
	// Closing the descriptor drops the flock. The lock file stays: removing
	// it would let a process that opened it earlier lock an unlinked inode.
	err := s.lock.Close()
	s.lock = nil
	return err
}

// Save writes rec durably: when it returns nil the record survives a crash
// or power loss. It sets rec.Version, rec.Updated and, if zero, rec.Created.
// Saving an existing ID replaces that record.
func (s *Store) Save(rec *Record) error {
	if !ValidID(rec.ID) {
		return fmt.Errorf("save job: invalid job ID %q", rec.ID)
	}
	if !knownStates[rec.State] {
		return fmt.Errorf("save job %s: unknown state %q", rec.ID, rec.State)
	}
	// A record Save writes must be one Open can read back.
	if _, err := rec.Request.Job(); err != nil {
		return fmt.Errorf("save job %s: %w", rec.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	if s.index[rec.ID].state == StateDone && rec.State != StateDone {
		// The index trusts a done record without reading it (index.go).
		return fmt.Errorf("save job %s: it is done, and a finished job is not reopened", rec.ID)
	}
	now := s.now()
	rec.Version = RecordVersion
	rec.Updated = now
	if rec.Created.IsZero() {
		rec.Created = now
	}
	data, err := EncodeRecord(rec)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.jobs, rec.ID+recordSuffix, data); err != nil {
		return fmt.Errorf("save job %s: %w", rec.ID, err)
	}
	s.index[rec.ID] = entry{created: rec.Created, state: rec.State}
	s.noteIndex(rec.ID)
	return nil
}

// Get returns the record with the given ID, or an error matching ErrNotFound.
func (s *Store) Get(id string) (*Record, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("job %q: %w", id, ErrNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if !s.readOnly {
		if _, ok := s.index[id]; !ok {
			return nil, fmt.Errorf("job %s: %w", id, ErrNotFound)
		}
	}
	rec, err := s.read(id + recordSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("job %s: %w", id, ErrNotFound)
	}
	return rec, err
}

func (s *Store) writable() error {
	switch {
	case s.closed:
		return ErrClosed
	case s.readOnly:
		return ErrReadOnly
	}
	return nil
}

// read decodes one record file.
func (s *Store) read(name string) (*Record, error) {
	path := filepath.Join(s.jobs, name)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read job record: %w", err)
	}
	rec, err := DecodeRecord(data)
	if errors.Is(err, ErrNewerVersion) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", path, ErrCorrupt, err)
	}
	if rec.ID+recordSuffix != name {
		return nil, fmt.Errorf("%s: %w: holds job %q", path, ErrCorrupt, rec.ID)
	}
	return rec, nil
}
