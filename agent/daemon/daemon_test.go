package daemon

import (
	"context"
	"errors"
	"github.com/ecssnap/ecssnap/pkg/store"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/imds"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// testDaemon runs Serve on a socket in a temp dir against an emulator.
type testDaemon struct {
	env      *ecsemutest.Env
	textfile string
	client   *localapi.Client
	now      *fakeNow
}

type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeNow) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeNow) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func startDaemon(t *testing.T, sc *ecsemu.Scenario) *testDaemon {
	return startDaemonWith(t, sc, nil)
}

func startDaemonWith(t *testing.T, sc *ecsemu.Scenario, reload func() (func(func(job.Event)) *job.Engine, error), tweaks ...func(*Options)) *testDaemon {
	t.Helper()
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	dir := t.TempDir()
	engine := emulatorEngine(env, nil)
	clock := &fakeNow{t: time.Now()}
	socket := filepath.Join(dir, "ecssnap.sock")
	textfile := filepath.Join(dir, "ecssnap.prom")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	opts := Options{Socket: socket, StateDir: filepath.Join(dir, "state"),
		JournalPath: filepath.Join(dir, "freeze.json"), Engine: engine, Now: clock.Now, MetricsTextfile: textfile,
		Reload: reload,
		Getenv: func(string) string { return "" }}
	for _, tweak := range tweaks {
		tweak(&opts)
	}
	go func() {
		done <- Serve(ctx, opts)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	client := localapi.NewClient(socket)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := client.Health(context.Background()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("daemon did not come up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return &testDaemon{env: env, client: client, now: clock, textfile: textfile}
}

// emulatorEngine builds engines that talk to env, one metadata client for
// them all; tweak, when not nil, adjusts each.
func emulatorEngine(env *ecsemutest.Env, tweak func(*job.Engine)) func(emit func(job.Event)) *job.Engine {
	creds := cloud.NewStaticCredentials(env.AccessKeyID, env.AccessKeySecret)
	md := imds.New(imds.Config{Endpoint: env.IMDSURL})
	return func(emit func(job.Event)) *job.Engine {
		e := &job.Engine{Metadata: md, Emit: emit, PollMin: 20 * time.Millisecond, PollMax: 50 * time.Millisecond,
			NewCloud: func(region string) (job.Cloud, error) {
				return cloud.New(cloud.Config{Region: region, Endpoint: env.APIURL, Credentials: creds})
			}}
		if tweak != nil {
			tweak(e)
		}
		return e
	}
}

func quick() *ecsemu.Scenario {
	sc := ecsemu.DemoScenario()
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(200 * time.Millisecond)}
	return sc
}

func hookRequest(session string) localapi.CreateJobRequest {
	return localapi.CreateJobRequest{Trigger: "apt", Session: session, Disks: plan.Selection{Kind: "all"},
		Consistency: "crash", Wait: localapi.WaitCreated}
}

func countCreates(env *ecsemutest.Env) int {
	n := 0
	for _, c := range env.Emu.Calls() {
		if strings.HasPrefix(c.Action, "Create") && c.Committed && !c.Replayed {
			n++
		}
	}
	return n
}

// Twenty hook requests of one package-manager session, at once, make one
// snapshot set.
func TestConcurrentSessionRequestsCoalesce(t *testing.T) {
	d := startDaemon(t, quick())
	var wg sync.WaitGroup
	ids := make([]string, 20)
	errs := make([]error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := d.client.CreateJob(context.Background(), hookRequest("apt:4242:1700000000"))
			errs[i] = err
			if err == nil {
				ids[i] = v.ID
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if ids[i] != ids[0] {
			t.Errorf("request %d got job %s, request 0 got %s", i, ids[i], ids[0])
		}
	}
	if n := countCreates(d.env); n != 2 { // one group, one per-disk
		t.Errorf("%d create calls for one session, want 2", n)
	}
}

// Hook requests inside the window join the last hook job; after the window,
// or with --force, they make a new one.
func TestCoalescingWindow(t *testing.T) {
	sc := quick()
	sc.Disks = sc.Disks[:2] // ESSD only: several snapshot tasks per disk at once
	d := startDaemon(t, sc)
	ctx := context.Background()
	first, err := d.client.CreateJob(ctx, hookRequest("s1"))
	if err != nil {
		t.Fatal(err)
	}
	d.now.Advance(5 * time.Minute)
	second, err := d.client.CreateJob(ctx, hookRequest("s2")) // another session, inside the window
	if err != nil || second.ID != first.ID || !second.Joined {
		t.Fatalf("inside the window: %+v, %v", second, err)
	}
	forced := hookRequest("s2")
	forced.Force = true
	third, err := d.client.CreateJob(ctx, forced)
	if err != nil || third.ID == first.ID {
		t.Fatalf("--force joined: %+v, %v", third, err)
	}
	d.now.Advance(11 * time.Minute)
	fourth, err := d.client.CreateJob(ctx, hookRequest("s3"))
	if err != nil || fourth.ID == first.ID || fourth.ID == third.ID {
		t.Fatalf("after the window: %+v, %v", fourth, err)
	}
	if n := countCreates(d.env); n != 3 {
		t.Errorf("%d creates for three jobs of one group each, want 3", n)
	}
}

// Manual requests never join: each queues behind the running one, and
// jobs run one at a time.
func TestManualRequestsQueue(t *testing.T) {
	d := startDaemon(t, quick())
	ctx := context.Background()
	req := localapi.CreateJobRequest{Trigger: "manual", Disks: plan.Selection{Kind: "data"}, Consistency: "crash", Complete: true}
	a, err := d.client.CreateJob(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.client.CreateJob(ctx, req)
	if err != nil || b.ID == a.ID {
		t.Fatalf("second manual request: %+v, %v", b, err)
	}
	for _, id := range []string{a.ID, b.ID} {
		if err := d.client.Events(ctx, id, func(job.Event) {}); err != nil {
			t.Fatal(err)
		}
	}
	va, _ := d.client.GetJob(ctx, a.ID)
	vb, _ := d.client.GetJob(ctx, b.ID)
	if va.Result.Outcome != "succeeded" || vb.Result.Outcome != "succeeded" {
		t.Fatalf("outcomes %s, %s", va.Result.Outcome, vb.Result.Outcome)
	}
	if !vb.Result.Started.After(va.Result.Finished) && !vb.Result.Started.Equal(va.Result.Finished) {
		t.Errorf("jobs overlapped: second started %v, first finished %v", vb.Result.Started, va.Result.Finished)
	}
	var m strings.Builder
	if err := d.client.Metrics(ctx, &m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.String(), `ecssnap_jobs_total{outcome="succeeded",trigger="manual"} 2`) {
		t.Errorf("metrics:\n%s", m.String())
	}
	text, err := os.ReadFile(d.textfile)
	if err != nil || !strings.Contains(string(text), "ecssnap_api_calls_total") {
		t.Errorf("textfile: %v\n%s", err, text)
	}
}

// SIGHUP reloads the configuration: the next job uses the new engine.
func TestSIGHUPReloads(t *testing.T) {
	reloaded := make(chan struct{}, 1)
	d := startDaemonWith(t, quick(), func() (func(func(job.Event)) *job.Engine, error) {
		reloaded <- struct{}{}
		return nil, errors.New("a broken configuration")
	})
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reloaded:
	case <-time.After(5 * time.Second):
		t.Fatal("SIGHUP did not reload")
	}
	// A failed reload keeps the old configuration: jobs still run.
	v, err := d.client.CreateJob(context.Background(), localapi.CreateJobRequest{Trigger: "manual", Disks: plan.Selection{Kind: "data"},
		Consistency: "crash", Wait: localapi.WaitCompleted})
	if err != nil || v.Result == nil || v.Result.Outcome != "succeeded" {
		t.Fatalf("job after a failed reload: %+v, %v", v, err)
	}
}

// A daemon (or an in-process run) remembers the hook jobs that finished
// inside the window before it started: a hook request joins them, adding its
// packages to the record, instead of taking another snapshot.
func TestJoinsJobsFinishedBeforeStart(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	finished := func(id string, age time.Duration, errText, outcome string) *store.Record {
		rec := &store.Record{ID: id, State: store.StateDone, Session: "pm-" + id, Created: now.Add(-age), Updated: now.Add(-age),
			Request: store.RequestRecord{Trigger: "apt", Disks: plan.Selection{Kind: "all"}, Packages: []string{"install a 1"}},
			Result: &job.Result{Outcome: outcome, Consistency: "crash", Snapshots: []job.SnapshotResult{
				{DiskID: "d-1", DiskType: "system", SnapshotID: "s-" + id, State: job.StateAccomplished}}}, Error: errText}
		if err := st.Save(rec); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	finished("j-old", 20*time.Minute, "", "succeeded")
	finished("j-ok", 4*time.Minute, "", "succeeded")
	finished("j-failed", 2*time.Minute, "quota exceeded", "failed")

	jobs := NewJobs(JobsOptions{Store: st, Now: func() time.Time { return now }, Window: 10 * time.Minute})
	if err := jobs.RememberFinished(); err != nil {
		t.Fatal(err)
	}
	req := hookRequest("pm-new")
	req.Packages = []string{"install a 1", "upgrade b 1 -> 2"}
	e, joined, err := jobs.Submit(req, localapi.Caller{UID: 0, PID: 4321, Cmdline: "apt-get install b"})
	if err != nil || !joined || e.ID() != "j-ok" {
		t.Fatalf("Submit: job %v joined %v err %v; want to join j-ok (j-failed failed, j-old is outside the window)", e.ID(), joined, err)
	}
	rec, err := st.Get("j-ok")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"install a 1", "upgrade b 1 -> 2"}; !slices.Equal(rec.Request.Packages, want) {
		t.Errorf("recorded packages %q, want %q", rec.Request.Packages, want)
	}
	if rec.JoinedCount != 1 || len(rec.Joined) != 1 || rec.Joined[0].Caller.PID != 4321 || rec.Joined[0].Session != "pm-new" {
		t.Errorf("the joining request is not recorded on the job: %+v", rec.Joined)
	}

	manual := localapi.CreateJobRequest{Trigger: "manual", Disks: plan.Selection{Kind: "all"}}
	if _, joined, err := jobs.Submit(manual, localapi.Caller{}); err != nil || joined {
		t.Errorf("a manual request joined a remembered job (err %v)", err)
	}
}
