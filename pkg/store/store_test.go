package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

func sampleRecord(id string) *Record {
	return &Record{
		ID:    id,
		State: StateCreated,
		Request: RequestRecord{
			Reason: "apt upgrade", Trigger: "apt", Disks: plan.Selection{Kind: "ids", IDs: []string{"d-1", "d-2"}},
			Wait: true, TimeoutMS: 90_000, Tags: []cloud.Tag{{Key: "team", Value: "web"}}, Mounts: []string{"/"},
			Consistency: "fs", Require: "crash", AllowInconsistent: true,
		},
		Result: &job.Result{
			JobID: id, InstanceID: "i-1", Outcome: "created",
			Snapshots: []job.SnapshotResult{{DiskID: "d-1", ClientToken: "tok-1", State: job.StateCreated}},
		},
		Caller:   Caller{UID: 0, GID: 0, PID: 4242, Cmdline: "apt-get upgrade"},
		Session:  "pid=100,start=12345",
		Attempts: 1,
	}
}

func TestSaveGetRoundTrip(t *testing.T) {
	s, _ := openTest(t, t.TempDir())
	want := sampleRecord("j-20250301-120000-0001")
	if err := s.Save(want); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if want.Version != RecordVersion || want.Created.IsZero() || !want.Updated.Equal(want.Created) {
		t.Fatalf("Save did not stamp the record: version %d created %v updated %v", want.Version, want.Created, want.Updated)
	}
	got, err := s.Get(want.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	wantJSON, _ := EncodeRecord(want)
	gotJSON, _ := EncodeRecord(got)
	if string(wantJSON) != string(gotJSON) {
		t.Fatalf("round trip differs:\nwant %s\ngot  %s", wantJSON, gotJSON)
	}
	if got.Result.Snapshots[0].ClientToken != "tok-1" {
		t.Fatalf("ClientToken lost: %+v", got.Result.Snapshots)
	}
	if req, err := got.Request.Job(); err != nil || req.Timeout != 90*time.Second || req.Disks.String() != "d-1,d-2" || req.Consistency != job.LevelFS {
		t.Fatalf("Request.Job() = %+v, %v", req, err)
	}

	// An update keeps Created and moves Updated.
	created := got.Created
	got.State = StateDone
	if err := s.Save(got); err != nil {
		t.Fatalf("Save update: %v", err)
	}
	again, err := s.Get(want.ID)
	if err != nil {
		t.Fatalf("Get after update: %v", err)
	}
	if again.State != StateDone || !again.Created.Equal(created) || !again.Updated.After(created) {
		t.Fatalf("after update: state %s created %v updated %v (first created %v)", again.State, again.Created, again.Updated, created)
	}
	fi, err := os.Stat(filepath.Join(s.Dir(), jobsDir, want.ID+recordSuffix))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("record file mode: %v, %v; want 0600", fi.Mode(), err)
	}
}

func TestRequestFromJob(t *testing.T) {
	for _, in := range []job.Request{
		{Reason: "r", Trigger: "dnf", Disks: plan.Selection{Kind: "system"}, Mounts: []string{"/", "/data"},
			AllowInconsistent: true, Consistency: job.LevelApp, Require: job.LevelFS, Wait: true,
			Timeout: 3 * time.Minute, RetentionDays: 7, Tags: []cloud.Tag{{Key: "k", Value: "v"}}, DryRun: true},
		{}, // every default, including LevelDefault
	} {
		out, err := RequestFromJob(in).Job()
		if err != nil || fmt.Sprint(out) != fmt.Sprint(in) {
			t.Errorf("RequestFromJob(...).Job() = %+v, %v; want %+v", out, err, in)
		}
	}
	if err := (&Store{}).Save(&Record{ID: "j-1", State: StateQueued, Request: RequestRecord{Consistency: "perfect"}}); err == nil {
		t.Error("Save accepted an unknown consistency level")
	}
}

func TestGetAndSaveRejectBadInput(t *testing.T) {
	s, _ := openTest(t, t.TempDir())
	for _, id := range []string{"j-missing", "../etc/passwd", "", ".hidden"} {
		if _, err := s.Get(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
		}
	}
	if err := s.Save(&Record{ID: "a/b", State: StateQueued}); err == nil {
		t.Error("Save accepted an ID with a slash")
	}
	if err := s.Save(&Record{ID: "j-1", State: "exploded"}); err == nil {
		t.Error("Save accepted an unknown state")
	}
}

func TestListNewestFirstWithLimitAndSince(t *testing.T) {
	s, _ := openTest(t, t.TempDir())
	var saved []*Record
	for i := range 5 {
		r := &Record{ID: fmt.Sprintf("j-%d", i), State: StateDone}
		if err := s.Save(r); err != nil {
			t.Fatal(err)
		}
		saved = append(saved, r)
	}
	all, err := s.List(ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(all), []string{"j-4", "j-3", "j-2", "j-1", "j-0"}; !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	two, _ := s.List(ListOptions{Limit: 2})
	if got, want := ids(two), []string{"j-4", "j-3"}; !slices.Equal(got, want) {
		t.Fatalf("List(Limit 2) = %v, want %v", got, want)
	}
	since, _ := s.List(ListOptions{Since: saved[3].Created})
	if got, want := ids(since), []string{"j-4", "j-3"}; !slices.Equal(got, want) {
		t.Fatalf("List(Since) = %v, want %v", got, want)
	}
}

func TestUnfinishedOldestFirst(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTest(t, dir)
	for i, state := range []string{StateQueued, StateDone, StateWaiting, StateRunning, StateDone, StateCreated} {
		if err := s.Save(&Record{ID: fmt.Sprintf("j-%d", i), State: state}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"j-0", "j-2", "j-3", "j-5"}
	got, err := s.Unfinished()
	if err != nil || !slices.Equal(ids(got), want) {
		t.Fatalf("Unfinished = %v, %v; want %v", ids(got), err, want)
	}
	ro, err := OpenReadOnly(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err = ro.Unfinished()
	if err != nil || !slices.Equal(ids(got), want) {
		t.Fatalf("read-only Unfinished = %v, %v; want %v", ids(got), err, want)
	}
}

func TestPrune(t *testing.T) {
	s, _ := openTest(t, t.TempDir())
	// The clock steps one second per Save: j-0 is the oldest.
	for i := range 8 {
		state := StateDone
		if i == 0 || i == 5 {
			state = StateWaiting // never pruned, however old
		}
		if err := s.Save(&Record{ID: fmt.Sprintf("j-%d", i), State: state}); err != nil {
			t.Fatal(err)
		}
	}
	// Done, newest first: j-7 j-6 j-4 j-3 j-2 j-1 (created t0+8s .. t0+2s).
	// Keeping four removes j-2 and j-1.
	if n, err := s.Prune(4, 0); err != nil || n != 2 {
		t.Fatalf("Prune(4, 0) = %d, %v; want 2", n, err)
	}
	// The clock now reads t0+10s: an age limit of 2.5s protects only j-7
	// (t0+8s), so j-6, j-4 and j-3 go although keep is 0.
	if n, err := s.Prune(0, 2500*time.Millisecond); err != nil || n != 3 {
		t.Fatalf("Prune(0, 2.5s) = %d, %v; want 3", n, err)
	}
	all, _ := s.List(ListOptions{})
	if got, want := ids(all), []string{"j-7", "j-5", "j-0"}; !slices.Equal(got, want) {
		t.Fatalf("after Prune: %v, want %v", got, want)
	}
	if n, err := s.Prune(0, time.Hour); err != nil || n != 0 {
		t.Fatalf("Prune(0, 1h) = %d, %v; want 0", n, err)
	}
	if n, err := s.Prune(0, 0); err != nil || n != 1 {
		t.Fatalf("Prune(0, 0) = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), jobsDir, "j-4.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pruned file still there: %v", err)
	}
}

func TestConcurrentSave(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTest(t, dir)
	const workers, perWorker = 16, 20
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				// Each worker updates its own job and also a shared one.
				own := &Record{ID: fmt.Sprintf("j-w%02d", w), State: StateRunning, Attempts: i}
				shared := &Record{ID: "j-shared", State: StateWaiting, Attempts: w}
				for _, r := range []*Record{own, shared} {
					if err := s.Save(r); err != nil {
						t.Errorf("Save %s: %v", r.ID, err)
					}
				}
				if _, err := s.List(ListOptions{Limit: 3}); err != nil {
					t.Errorf("List: %v", err)
				}
			}
		})
	}
	wg.Wait()
	recs, err := s.List(ListOptions{})
	if err != nil || len(recs) != workers+1 {
		t.Fatalf("List = %d records, %v; want %d", len(recs), err, workers+1)
	}
	for _, r := range recs {
		if r.ID != "j-shared" && r.Attempts != perWorker-1 {
			t.Errorf("%s: last save lost, Attempts = %d", r.ID, r.Attempts)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, jobsDir, tempPrefix+"*"))
	if len(left) != 0 {
		t.Fatalf("temp files left behind: %v", left)
	}
}

func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenReadOnly(dir, Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenReadOnly of an empty dir = %v, want ErrNotExist", err)
	}
	w, _ := openTest(t, dir)
	if err := w.Save(sampleRecord("j-1")); err != nil {
		t.Fatal(err)
	}
	// A reader works while the writer holds the lock, and sees later writes.
	r, err := OpenReadOnly(dir, Options{})
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	if err := w.Save(sampleRecord("j-2")); err != nil {
		t.Fatal(err)
	}
	recs, err := r.List(ListOptions{})
	if err != nil || len(recs) != 2 {
		t.Fatalf("read-only List = %v, %v; want 2 records", ids(recs), err)
	}
	if _, err := r.Get("j-2"); err != nil {
		t.Fatalf("read-only Get: %v", err)
	}
	if _, err := r.Get("j-3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read-only Get of a missing job = %v, want ErrNotFound", err)
	}
	if err := r.Save(sampleRecord("j-3")); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only Save = %v, want ErrReadOnly", err)
	}
	if _, err := r.Prune(0, 0); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only Prune = %v, want ErrReadOnly", err)
	}
	_ = w.Close()
	if err := w.Save(sampleRecord("j-4")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Save after Close = %v, want ErrClosed", err)
	}
}

func TestOpenTwiceInOneProcessIsLocked(t *testing.T) {
	dir := t.TempDir()
	openTest(t, dir)
	_, err := Open(dir, Options{})
	var locked *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &locked) || locked.PID != os.Getpid() {
		t.Fatalf("second Open = %v, want LockedError naming pid %d", err, os.Getpid())
	}
}
