package store

import (
	"cmp"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// ListOptions narrow List.
type ListOptions struct {
	Limit int       // at most this many records; 0 means all
	Since time.Time // only records created at or after Since; zero means all
}

// List returns records newest first (by creation time, then ID).
func (s *Store) List(opts ListOptions) ([]*Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	keep := func(created time.Time) bool { return opts.Since.IsZero() || !created.Before(opts.Since) }
	index, err := s.current()
	if err != nil {
		return nil, err
	}
	ids := sortedIDs(index, func(e entry) bool { return keep(e.created) })
	return s.readAll(limit(ids, opts.Limit)), nil
}

// current is the index of the records: the writable store's own, or for a
// read-only one, what the directory holds now (the daemon may have written
// since the last read).
func (s *Store) current() (map[string]entry, error) {
	if !s.readOnly {
		return s.index, nil
	}
	sc, err := s.entries(false)
	return sc.idx, err
}

// Unfinished returns every record not in StateDone, oldest first, which is
// the order in which the daemon reconciles them after a restart.
func (s *Store) Unfinished() ([]*Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	index, err := s.current()
	if err != nil {
		return nil, err
	}
	recs := s.readAll(sortedIDs(index, func(e entry) bool { return e.state != StateDone }))
	slices.Reverse(recs)
	return recs, nil
}

// Prune removes finished records except the newest keep of them and except
// those created within olderThan (0 disables the age test), and returns how
// many it removed. Unfinished records are never pruned.
func (s *Store) Prune(keep int, olderThan time.Duration) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return 0, err
	}
	cutoff := s.now().Add(-olderThan)
	removed, errs := s.removeDone(func(i int, e entry) bool {
		return i >= keep && (olderThan <= 0 || !e.created.After(cutoff))
	}, "prune job")
	if removed > 0 {
		s.log.Info("pruned job records", "removed", removed, "keep", keep, "older_than", olderThan)
	}
	return removed, errors.Join(errs...)
}

// sortedIDs returns the IDs in index that match, newest first.
func sortedIDs(index map[string]entry, match func(entry) bool) []string {
	var ids []string
	for id, e := range index {
		if match(e) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		if c := index[b].created.Compare(index[a].created); c != 0 {
			return c
		}
		return cmp.Compare(b, a)
	})
	return ids
}

// readAll reads the records the index names. One that vanished or broke
// since it was indexed is logged and left out, so that one bad file cannot
// hide every other job.
func (s *Store) readAll(ids []string) []*Record {
	recs := make([]*Record, 0, len(ids))
	for _, id := range ids {
		rec, err := s.read(id + recordSuffix)
		if err != nil {
			s.log.Error("job record unreadable; skipped", "job", id, "err", err)
			continue
		}
		recs = append(recs, rec)
	}
	return recs
}

func (s *Store) removeTemp(name string) {
	if err := os.Remove(filepath.Join(s.jobs, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("cannot remove temp file of an interrupted write", "file", name, "err", err)
		return
	}
	s.log.Info("removed temp file of an interrupted write", "file", name)
}

// quarantine moves a record that does not decode to a name List ignores,
// keeping it for a human, and logs both names so that the job is never lost
// without a trace. The timestamp keeps earlier quarantined copies.
func (s *Store) quarantine(name string, cause error) {
	aside := name + "." + s.now().UTC().Format("20060102T150405.000000000") + corruptSuffix
	if err := os.Rename(filepath.Join(s.jobs, name), filepath.Join(s.jobs, aside)); err != nil {
		s.log.Error("job record corrupt and cannot be moved aside; skipped", "file", name, "err", cause, "rename_err", err)
		return
	}
	s.log.Error("job record corrupt; moved aside and skipped", "file", name, "kept_as", aside, "err", cause)
}

func newestFirst(a, b *Record) int {
	if c := b.Created.Compare(a.Created); c != 0 {
		return c
	}
	return cmp.Compare(b.ID, a.ID)
}

func limit[T any](s []T, n int) []T {
	if n > 0 && len(s) > n {
		return s[:n]
	}
	return s
}
