package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Retention bounds the finished job records a store keeps.
type Retention struct {
	// Keep is the most finished records kept, newest first; 0 means no
	// count limit.
	Keep int
	// MaxAge removes finished records created longer ago; 0 means no age
	// limit.
	MaxAge time.Duration
}

// Default job-record retention: a year of daily upgrades and then some,
// a few megabytes at most.
var DefaultRetention = Retention{Keep: 1000, MaxAge: 180 * 24 * time.Hour}

// Retain applies r: it removes every finished record beyond the newest
// r.Keep and every finished record older than r.MaxAge, and returns how
// many it removed. Unlike Prune, where keep and the age each protect a
// record, both are limits here, so the store's size is bounded by Keep
// whatever the rate of jobs. Unfinished records are never removed.
func (s *Store) Retain(r Retention) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return 0, err
	}
	cutoff := s.now().Add(-r.MaxAge)
	removed, errs := s.removeDone(func(i int, e entry) bool {
		overCount := r.Keep > 0 && i >= r.Keep
		tooOld := r.MaxAge > 0 && e.created.Before(cutoff)
		return overCount || tooOld
	}, "remove job record")
	if removed > 0 {
		s.log.Info("removed old job records", "removed", removed, "keep", r.Keep, "max_age", r.MaxAge)
	}
	return removed, errors.Join(errs...)
}

// removeDone removes the finished records for which drop is true (i counts
// them newest first) and syncs the directory when any went; a failed
// removal's error starts with failed. Retain and Prune both remove this way.
// The caller holds s.mu.
func (s *Store) removeDone(drop func(i int, e entry) bool, failed string) (int, []error) {
	done := sortedIDs(s.index, func(e entry) bool { return e.state == StateDone })
	removed := 0
	var errs []error
	for i, id := range done {
		if !drop(i, s.index[id]) {
			continue
		}
		err := os.Remove(filepath.Join(s.jobs, id+recordSuffix))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("%s %s: %w", failed, id, err))
			continue
		}
		delete(s.index, id)
		removed++
	}
	if removed > 0 {
		if err := syncDir(s.jobs); err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errs
}
