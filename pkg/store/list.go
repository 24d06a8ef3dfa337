package store

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	if s.readOnly {
		recs, err := s.scan(false)
		if err != nil {
			return nil, err
		}
		recs = slices.DeleteFunc(recs, func(r *Record) bool { return !keep(r.Created) })
		slices.SortFunc(recs, newestFirst)
		return limit(recs, opts.Limit), nil
	}
	ids := s.sortedIDs(func(e entry) bool { return keep(e.created) })
	return s.readAll(limit(ids, opts.Limit)), nil
}

// Unfinished returns every record not in StateDone, oldest first, which is
// the order in which the daemon reconciles them after a restart.
func (s *Store) Unfinished() ([]*Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	var recs []*Record
	if s.readOnly {
		all, err := s.scan(false)
		if err != nil {
			return nil, err
		}
		recs = slices.DeleteFunc(all, func(r *Record) bool { return r.Finished() })
		slices.SortFunc(recs, newestFirst)
	} else {
		recs = s.readAll(s.sortedIDs(func(e entry) bool { return e.state != StateDone }))
	}
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

// sortedIDs returns the indexed IDs that match, newest first.
func (s *Store) sortedIDs(match func(entry) bool) []string {
	var ids []string
	for id, e := range s.index {
		if match(e) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		if c := s.index[b].created.Compare(s.index[a].created); c != 0 {
			return c
		}
		return cmp.Compare(b, a)
	})
	return ids
}

// readAll reads the records of a writable store. The index says they exist;
// one that vanished or broke since Open is logged and left out, so that one
// bad file cannot hide every other job.
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

// scan reads every record in the directory. A writable store (clean) also
// removes temp files left by interrupted writes and moves undecodable
// records aside; a read-only store only logs them, because the daemon may
// be writing at that moment and the directory is not the reader's to change.
func (s *Store) scan(clean bool) ([]*Record, error) {
	ents, err := os.ReadDir(s.jobs)
	if err != nil {
		return nil, fmt.Errorf("list job records: %w", err)
	}
	var recs []*Record
	changed := false
	for _, ent := range ents {
		name := ent.Name()
		switch {
		case isTempName(name):
			if clean {
				s.removeTemp(name)
				changed = true
			}
			continue
		case !ent.Type().IsRegular() || !strings.HasSuffix(name, recordSuffix):
			continue // .corrupt files and anything else that is not a record
		}
		rec, err := s.read(name)
		switch {
		case err == nil:
			recs = append(recs, rec)
		case errors.Is(err, fs.ErrNotExist):
			// Pruned by the daemon between ReadDir and the read.
		case errors.Is(err, ErrNewerVersion):
			s.log.Warn("job record from a newer ecssnap; skipped and left in place", "file", name, "err", err)
		case errors.Is(err, ErrCorrupt) && clean:
			s.quarantine(name, err)
			changed = true
		default:
			s.log.Error("job record unreadable; skipped", "file", name, "err", err)
		}
	}
	if changed {
		if err := syncDir(s.jobs); err != nil {
			return nil, err
		}
	}
	return recs, nil
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
