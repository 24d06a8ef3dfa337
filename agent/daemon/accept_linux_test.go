package daemon

import (
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/store"
)

// createWatch is a cloud client that, when a create call is sent, notes
// how many records were renamed into place so far and what the job's
// record on disk says.
type createWatch struct {
	job.Cloud
	before func()
}

func (c createWatch) CreateSnapshot(ctx context.Context, in cloud.CreateSnapshotInput) (string, error) {
	c.before()
	return c.Cloud.CreateSnapshot(ctx, in)
}

func (c createWatch) CreateSnapshotGroup(ctx context.Context, in cloud.CreateGroupInput) (string, error) {
	c.before()
	return c.Cloud.CreateSnapshotGroup(ctx, in)
}

// renames counts the records written since the watch began: each is a
// temporary file created under its own name, then renamed into place
// (inotify merges repeated renames onto one name into one event, not the
// creations of differently named files).
func renames(t *testing.T, fd int) int {
	t.Helper()
	n := 0
	buf := make([]byte, 64<<10)
	for {
		m, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EAGAIN) {
			return n
		}
		if err != nil {
			t.Fatalf("read inotify: %v", err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= m; {
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			if mask&unix.IN_CREATE != 0 {
				n++
			}
			off += unix.SizeofInotifyEvent + nameLen
		}
	}
}

// A job accepted by the daemon is recorded before its creates are sent,
// with the create calls and their ClientTokens, so that it is crash safe
// at the create. A caller that waits for the creates (every hook) gets
// that one record before them, not two: each is a write and two fsyncs on
// the path of every package manager's hook. A caller that does not wait
// was told the job's ID, and the job is recorded when accepted as well.
func TestAcceptedJobRecordedBeforeItsCreates(t *testing.T) {
	for _, tc := range []struct {
		wait string
		want int // records written before the first create call
	}{
		{localapi.WaitCreated, 1},
		{localapi.WaitCompleted, 1},
		{localapi.WaitNone, 2},
	} {
		t.Run("wait="+tc.wait, func(t *testing.T) {
			atCreate, onDisk := recordsAtCreate(t, tc.wait)
			if atCreate != tc.want {
				t.Errorf("%d records written before the first create call, want %d", atCreate, tc.want)
			}
			if onDisk == nil || onDisk.State != store.StateRunning || onDisk.Result == nil || len(onDisk.Result.Creates) == 0 ||
				onDisk.Result.Creates[0].ClientToken == "" || onDisk.Attempts != 1 {
				t.Errorf("the record on disk at the first create is %+v; want it running, attempt 1, with its create calls and their tokens", onDisk)
			}
		})
	}
}

// recordsAtCreate runs one job whose caller waits as wait says, and
// returns how many records were written when its first create call was
// sent and the job's record on disk then.
func recordsAtCreate(t *testing.T, wait string) (int, *store.Record) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(quick()))
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	in, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(in)
	jobsDir := filepath.Join(dir, "jobs")
	if _, err := unix.InotifyAddWatch(in, jobsDir, unix.IN_CREATE); err != nil {
		t.Fatalf("watch %s: %v", jobsDir, err)
	}

	var (
		mu       sync.Mutex
		atCreate = -1
		onDisk   *store.Record
		id       string
	)
	watch := func(e *job.Engine) {
		newCloud := e.NewCloud
		e.NewCloud = func(region string) (job.Cloud, error) {
			cl, err := newCloud(region)
			return createWatch{Cloud: cl, before: func() {
				mu.Lock()
				defer mu.Unlock()
				if atCreate < 0 {
					atCreate = renames(t, in)
					onDisk, _ = st.Get(id)
				}
			}}, err
		}
	}
	jobs := NewJobs(JobsOptions{Store: st, ResumeInterrupted: true, Engine: emulatorEngine(env, watch)})
	req := manualRequest(wait)
	mu.Lock()
	e, _, err := jobs.Submit(req, localapi.Caller{UID: 0, PID: 1})
	if err != nil {
		mu.Unlock()
		t.Fatal(err)
	}
	id = e.ID()
	mu.Unlock()
	jobs.Drain(context.Background())
	if _, err := e.Result(); err != nil {
		t.Fatalf("job: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if atCreate < 0 {
		t.Fatal("no create call was sent")
	}
	return atCreate, onDisk
}

// A daemon that dies after accepting a job, before its creates, runs the
// job at its next start when its caller did not wait (it was told the
// job's ID, and the queued record is enough); a job whose caller waited is
// not recorded, and is not run long after its caller learned it failed
// (a package manager's upgrade under way by then).
func TestAcceptedJobAfterACrash(t *testing.T) {
	for _, tc := range []struct {
		wait string
		runs bool
	}{
		{localapi.WaitNone, true},
		{localapi.WaitCreated, false},
	} {
		t.Run("wait="+tc.wait, func(t *testing.T) {
			env := ecsemutest.Start(t, ecsemutest.WithScenario(quick()))
			dir := t.TempDir()
			engine := emulatorEngine(env, nil)
			st, err := store.Open(dir, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			req := manualRequest(tc.wait)
			e, _, err := NewJobs(JobsOptions{Store: st, Engine: engine, ResumeInterrupted: true}).Submit(req, localapi.Caller{PID: 1})
			if err != nil {
				t.Fatal(err)
			}
			st.Close() // the daemon is gone before its worker took the job

			st, err = store.Open(dir, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			jobs := NewJobs(JobsOptions{Store: st, Engine: engine, ResumeInterrupted: true})
			if err := jobs.Reconcile(); err != nil {
				t.Fatal(err)
			}
			jobs.Drain(context.Background())
			rec, err := st.Get(e.ID())
			if !tc.runs {
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("the job of a caller that waited is on record after the crash: %+v, %v", rec, err)
				}
				if n := countCreates(env); n != 0 {
					t.Errorf("%d create calls after the restart, want none", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.State != store.StateDone || rec.Error != "" || rec.Result == nil || rec.Result.CreatedCount() == 0 || rec.Attempts != 1 {
				t.Fatalf("after the restart the job's record is %+v (error %q); want done with its snapshots, one attempt", rec, rec.Error)
			}
			if n := countCreates(env); n == 0 {
				t.Fatal("no create call reached the API")
			}
		})
	}
}

// A shutdown that interrupts a job before its creates leaves it for the
// next start when its caller did not wait, and ends it when its caller
// waited: that caller was told the job failed.
func TestShutdownBeforeTheCreates(t *testing.T) {
	for _, tc := range []struct {
		wait   string
		resume bool
	}{
		{localapi.WaitNone, true},
		{localapi.WaitCreated, false},
	} {
		t.Run("wait="+tc.wait, func(t *testing.T) {
			env := ecsemutest.Start(t, ecsemutest.WithScenario(quick()))
			hold := env.Emu.HoldCalls("DescribeDisks")
			defer hold.Release()
			st, err := store.Open(t.TempDir(), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			jobs := NewJobs(JobsOptions{Store: st, Engine: emulatorEngine(env, nil), ResumeInterrupted: true})
			req := manualRequest(tc.wait)
			e, _, err := jobs.Submit(req, localapi.Caller{PID: 1})
			if err != nil {
				t.Fatal(err)
			}
			ctx, shutdown := context.WithCancel(context.Background())
			ran := make(chan struct{})
			go func() { defer close(ran); jobs.Run(ctx) }()
			select {
			case <-hold.Arrived():
			case <-time.After(20 * time.Second):
				t.Fatal("the job never asked for the inventory")
			}
			shutdown()
			<-ran
			<-e.Done()
			rec, err := st.Get(e.ID())
			if err != nil {
				t.Fatalf("the interrupted job's end is not on record: %v", err)
			}
			if done := rec.State == store.StateDone; done == tc.resume {
				t.Errorf("record state %s: want it left for the next start = %v", rec.State, tc.resume)
			}
			if n := countCreates(env); n != 0 {
				t.Errorf("%d create calls", n)
			}
		})
	}
}

// A job not recorded yet (its caller waits for its creates) is listed
// all the same, newest first among the recorded ones.
func TestUnrecordedJobIsListed(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(quick()))
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	jobs := NewJobs(JobsOptions{Store: st, Engine: emulatorEngine(env, nil), ResumeInterrupted: true})
	b := &backend{jobs: jobs, store: st}
	req := manualRequest(localapi.WaitNone)
	req.Force = true
	first, _, err := jobs.Submit(req, localapi.Caller{PID: 1})
	if err != nil {
		t.Fatal(err)
	}
	jobs.Drain(context.Background())
	hold := env.Emu.HoldCalls("DescribeDisks")
	defer hold.Release()
	req.Wait = localapi.WaitCreated
	e, _, err := jobs.Submit(req, localapi.Caller{PID: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go jobs.Run(ctx)
	select {
	case <-hold.Arrived():
	case <-time.After(20 * time.Second):
		t.Fatal("the job never asked for the inventory")
	}
	if _, err := st.Get(e.ID()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the job is on record before its creates: %v", err)
	}
	views, err := b.ListJobs(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 2 || views[0].ID != e.ID() || views[0].State != store.StateRunning || views[1].ID != first.ID() {
		for _, v := range views {
			t.Logf("listed %s %s", v.ID, v.State)
		}
		t.Fatalf("listed %d jobs; want the running job %s first, then %s", len(views), e.ID(), first.ID())
	}
	if views, _ := b.ListJobs(context.Background(), 1); len(views) != 1 || views[0].ID != e.ID() {
		t.Errorf("with limit 1: %d jobs, want the running one", len(views))
	}
}

// manualRequest asks for a crash-consistent snapshot of every disk, its
// caller waiting as wait says.
func manualRequest(wait string) localapi.CreateJobRequest {
	return localapi.CreateJobRequest{Trigger: "manual", Disks: hookRequest("").Disks, Consistency: "crash", Wait: wait}
}
