package store

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// TestOpenSurvivesCrashLeftovers builds the directory a crash can leave:
// a temp file of an interrupted Save, a record cut short (as if a file
// system without ordered data lost its tail), a record under the wrong
// name, and one from a newer ecssnap. Open and List must keep working, keep
// every good record, report each bad one and lose none without a log line.
func TestOpenSurvivesCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTest(t, dir)
	for _, id := range []string{"j-good1", "j-good2", "j-torn"} {
		if err := s.Save(sampleRecord(id)); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Close()

	jobs := filepath.Join(dir, jobsDir)
	full, err := os.ReadFile(filepath.Join(jobs, "j-torn.json"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(jobs, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("j-torn.json", full[:len(full)/2])
	write(tempPrefix+"j-good1.json-123456", full[:10])
	good2, _ := os.ReadFile(filepath.Join(jobs, "j-good2.json"))
	write("j-renamed.json", good2) // holds j-good2: not this file's job
	write("j-future.json", []byte(`{"version": 99, "id": "j-future", "state": "teleporting"}`))
	write("notes.txt", []byte("not a record"))

	// A reader sees the good records and changes nothing.
	roSink := &testenv.LogSink{}
	ro, err := OpenReadOnly(dir, Options{Logger: newLogger(roSink)})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := ro.List(ListOptions{})
	if err != nil || !slices.Equal(ids(recs), []string{"j-good2", "j-good1"}) {
		t.Fatalf("read-only List = %v, %v", ids(recs), err)
	}
	if len(roSink.Find("j-torn.json")) == 0 {
		t.Errorf("read-only List did not report the torn record; log: %v", roSink.String())
	}
	if _, err := os.Stat(filepath.Join(jobs, tempPrefix+"j-good1.json-123456")); err != nil {
		t.Fatalf("read-only List touched the temp file: %v", err)
	}

	s2, sink := openTest(t, dir)
	recs, err = s2.List(ListOptions{})
	if err != nil || !slices.Equal(ids(recs), []string{"j-good2", "j-good1"}) {
		t.Fatalf("List after crash = %v, %v", ids(recs), err)
	}
	if _, err := s2.Get("j-torn"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(j-torn) = %v, want ErrNotFound once it is moved aside", err)
	}

	names := dirNames(t, jobs)
	for _, want := range []string{"j-future.json", "j-good1.json", "j-good2.json", "notes.txt"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s missing after Open; dir: %v", want, names)
		}
	}
	for _, gone := range []string{"j-torn.json", "j-renamed.json", tempPrefix + "j-good1.json-123456"} {
		if slices.Contains(names, gone) {
			t.Errorf("%s still in place after Open; dir: %v", gone, names)
		}
	}
	for _, prefix := range []string{"j-torn.json.", "j-renamed.json."} {
		aside := slices.IndexFunc(names, func(n string) bool {
			return strings.HasPrefix(n, prefix) && strings.HasSuffix(n, corruptSuffix)
		})
		if aside < 0 {
			t.Errorf("no %s*%s kept aside; dir: %v", prefix, corruptSuffix, names)
		}
	}
	for _, want := range [][]string{
		{"ERROR", "moved aside", "j-torn.json"},
		{"ERROR", "moved aside", "j-renamed.json"},
		{"WARN", "newer ecssnap", "j-future.json"},
		{"INFO", "temp file", "j-good1.json-123456"},
	} {
		if len(sink.Find(want...)) != 1 {
			t.Errorf("want one log line with %q; log: %v", want, sink.String())
		}
	}

	// The store stays writable, and the next Open finds nothing to clean.
	if err := s2.Save(sampleRecord("j-after")); err != nil {
		t.Fatal(err)
	}
	_ = s2.Close()
	s3, sink3 := openTest(t, dir)
	if recs, _ := s3.List(ListOptions{}); len(recs) != 3 {
		t.Fatalf("third Open lists %v", ids(recs))
	}
	if len(sink3.Find("ERROR")) != 0 {
		t.Fatalf("third Open reported errors again: %v", sink3.String())
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
