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
	"github.com/ecssnap/ecssnap/pkg/imds"
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

// A job accepted by the daemon is recorded once before its creates are
// recorded (with their ClientTokens) and sent: each record is a write and
// two fsyncs on the path of every package manager's hook. And it stays
// crash safe: at the create the record on disk holds the create call.
func TestAcceptedJobRecordedOnceBeforeItsCreates(t *testing.T) {
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
		jobs     *Jobs
		id       string
	)
	creds := cloud.NewStaticCredentials(env.AccessKeyID, env.AccessKeySecret)
	md := imds.New(imds.Config{Endpoint: env.IMDSURL})
	jobs = NewJobs(JobsOptions{Store: st, ResumeInterrupted: true, Engine: func(emit func(job.Event)) *job.Engine {
		return &job.Engine{Metadata: md, Emit: emit, PollMin: 20 * time.Millisecond, PollMax: 50 * time.Millisecond,
			NewCloud: func(region string) (job.Cloud, error) {
				cl, err := cloud.New(cloud.Config{Region: region, Endpoint: env.APIURL, Credentials: creds})
				if err != nil {
					return nil, err
				}
				return createWatch{Cloud: cl, before: func() {
					mu.Lock()
					defer mu.Unlock()
					if atCreate < 0 {
						atCreate = renames(t, in)
						onDisk, _ = st.Get(id)
					}
				}}, nil
			}}
	}})
	req := localapi.CreateJobRequest{Trigger: "manual", Disks: hookRequest("").Disks, Consistency: "crash", Wait: localapi.WaitCreated}
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
	// Submit's record (queued), then the one with the create calls.
	if atCreate != 2 {
		t.Errorf("%d records written before the first create call, want 2 (accepted, then the create calls)", atCreate)
	}
	if onDisk == nil || onDisk.State != store.StateRunning || onDisk.Result == nil || len(onDisk.Result.Creates) == 0 ||
		onDisk.Result.Creates[0].ClientToken == "" || onDisk.Attempts != 1 {
		t.Errorf("the record on disk at the first create is %+v; want it running, attempt 1, with its create calls and their tokens", onDisk)
	}
}

// A daemon that dies after accepting a job, before its creates, runs the
// job at its next start: the queued record is enough.
func TestAcceptedJobRunsAfterACrash(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(quick()))
	dir := t.TempDir()
	creds := cloud.NewStaticCredentials(env.AccessKeyID, env.AccessKeySecret)
	md := imds.New(imds.Config{Endpoint: env.IMDSURL})
	engine := func(emit func(job.Event)) *job.Engine {
		return &job.Engine{Metadata: md, Emit: emit, PollMin: 20 * time.Millisecond, PollMax: 50 * time.Millisecond,
			NewCloud: func(region string) (job.Cloud, error) {
				return cloud.New(cloud.Config{Region: region, Endpoint: env.APIURL, Credentials: creds})
			}}
	}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	req := localapi.CreateJobRequest{Trigger: "manual", Disks: hookRequest("").Disks, Consistency: "crash", Wait: localapi.WaitCreated}
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
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != store.StateDone || rec.Error != "" || rec.Result == nil || rec.Result.CreatedCount() == 0 || rec.Attempts != 1 {
		t.Fatalf("after the restart the job's record is %+v (error %q); want done with its snapshots, one attempt", rec, rec.Error)
	}
	if n := countCreates(env); n == 0 {
		t.Fatal("no create call reached the API")
	}
}
