package store

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fillStore saves done finished jobs and running unfinished ones in dir,
// and returns their IDs, oldest first.
func fillStore(t *testing.T, dir string, done, running int) []string {
	t.Helper()
	s, _ := openTest(t, dir)
	var all []string
	for i := range done + running {
		rec := sampleRecord(fmt.Sprintf("j-20250301-120000-%04d", i))
		rec.State = StateDone
		if i >= done {
			rec.State = StateRunning
		}
		if err := s.Save(rec); err != nil {
			t.Fatal(err)
		}
		all = append(all, rec.ID)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return all
}

// Open reads only the records the index does not say are done: on a
// machine with a long history an in-process job no longer decodes every
// record before its first call. What it lists is what the files hold.
func TestOpenReadsOnlyUnfinishedRecords(t *testing.T) {
	dir := t.TempDir()
	all := fillStore(t, dir, 40, 2)
	s, _ := openTest(t, dir)
	if sc, err := s.entries(false); err != nil || sc.read != 2 {
		t.Fatalf("entries read %d files (%v); want only the 2 unfinished", sc.read, err)
	}
	checkListing(t, s, all, all[40:])
}

// The index is a cache: a lost line, a torn line, a stale state or no
// index at all costs reads, never a job, and the store writes it anew.
func TestIndexDamageCostsReadsNotJobs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		damage   func(t *testing.T, path string)
		wantRead int
	}{
		{"deleted", func(t *testing.T, path string) { os.Remove(path) }, 42},
		{"not an index", func(t *testing.T, path string) { os.WriteFile(path, []byte("garbage\n"), 0o600) }, 42},
		{"last line lost", func(t *testing.T, path string) { dropLastLine(t, path) }, 2},
		{"torn last line", func(t *testing.T, path string) {
			dropLastLine(t, path)
			appendTo(t, path, "j-20250301-120000-0041 do")
		}, 2},
		// A job's done line written before its record says done cannot
		// happen (Save writes the line after); a running line for a done
		// record can, and the file wins.
		{"stale state", func(t *testing.T, path string) { appendTo(t, path, "j-20250301-120000-0003 running 1\n") }, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			all := fillStore(t, dir, 40, 2)
			tc.damage(t, filepath.Join(dir, indexName))
			ro, err := OpenReadOnly(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if sc, err := ro.entries(false); err != nil || sc.read != tc.wantRead {
				t.Fatalf("entries read %d files (%v); want %d", sc.read, err, tc.wantRead)
			}
			checkListing(t, ro, all, all[40:])
			s, _ := openTest(t, dir) // writes the index anew
			checkListing(t, s, all, all[40:])
			s.Close()
			if sc, err := ro.entries(false); err != nil || sc.read != 2 {
				t.Fatalf("after the index was written anew, entries read %d files (%v); want 2", sc.read, err)
			}
		})
	}
}

// A read-only store (ecssnap list while the daemon runs) uses the index
// too, and sees records saved since.
func TestReadOnlyStoreUsesTheIndex(t *testing.T) {
	dir := t.TempDir()
	all := fillStore(t, dir, 40, 2)
	ro, err := OpenReadOnly(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if sc, err := ro.entries(false); err != nil || sc.read != 2 {
		t.Fatalf("read-only entries read %d files (%v); want 2", sc.read, err)
	}
	checkListing(t, ro, all, all[40:])
}

// Done is final: Save refuses to reopen a finished job, which the index
// relies on.
func TestSaveRefusesToReopenAFinishedJob(t *testing.T) {
	s, _ := openTest(t, t.TempDir())
	rec := sampleRecord("j-20250301-120000-0001")
	rec.State = StateDone
	if err := s.Save(rec); err != nil {
		t.Fatal(err)
	}
	rec.State = StateRunning
	if err := s.Save(rec); err == nil {
		t.Fatal("a done job was saved running again")
	}
	got, err := s.Get(rec.ID)
	if err != nil || got.State != StateDone {
		t.Fatalf("Get: %v, state %v; want done", err, got)
	}
}

// The index stays bounded: it is written anew once it holds more than
// twice as many lines as records, plus a margin.
func TestIndexIsCompacted(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTest(t, dir)
	rec := sampleRecord("j-20250301-120000-0001")
	for range 200 {
		if err := s.Save(rec); err != nil {
			t.Fatal(err)
		}
	}
	if _, lines := readIndex(dir); lines > 2*1+64+1 {
		t.Fatalf("the index has %d lines for one record", lines)
	}
}

// checkListing checks that s lists want, newest first, and the unfinished
// jobs, oldest first.
func checkListing(t *testing.T, s *Store, want, unfinished []string) {
	t.Helper()
	recs, err := s.List(ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	newest := slices.Clone(want)
	slices.Reverse(newest)
	if got := ids(recs); !slices.Equal(got, newest) {
		t.Fatalf("List: %d records %v; want %d", len(got), got, len(newest))
	}
	unf, err := s.Unfinished()
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(unf); !slices.Equal(got, unfinished) {
		t.Fatalf("Unfinished: %v; want %v", got, unfinished)
	}
}

func dropLastLine(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if err := os.WriteFile(path, []byte(strings.Join(lines[:len(lines)-1], "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// An Open that reads only the unfinished records the index already names,
// as every run without the daemon does while a job is being finished,
// leaves the index as it is rather than writing it anew.
func TestOpenKeepsACurrentIndex(t *testing.T) {
	dir := t.TempDir()
	fillStore(t, dir, 40, 2)
	path := filepath.Join(dir, indexName)
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := openTest(t, dir)
	s.Close()
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || after.Size() != before.Size() {
		t.Error("Open wrote the index anew though it named every record as it is")
	}
}
