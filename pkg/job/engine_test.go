package job_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/imds"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// fastScenario is the demo instance with snapshots that finish in well under
// a second of real time.
func fastScenario() *ecsemu.Scenario {
	sc := ecsemu.DemoScenario()
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(200 * time.Millisecond)}
	return sc
}

// newEngine wires a real engine to the emulator: the metadata client, the
// SDK-based cloud client and credentials-go's static key provider.
func newEngine(t testing.TB, env *ecsemutest.Env, retry cloud.RetryPolicy) (*job.Engine, *events) {
	t.Helper()
	ev := &events{}
	creds := cloud.NewStaticCredentials(env.AccessKeyID, env.AccessKeySecret)
	return &job.Engine{
		Metadata: imds.New(imds.Config{Endpoint: env.IMDSURL}),
		NewCloud: func(region string) (job.Cloud, error) {
			return cloud.New(cloud.Config{Region: region, Endpoint: env.APIURL, Credentials: creds, Retry: retry})
		},
		Emit:    ev.add,
		PollMin: 20 * time.Millisecond,
		PollMax: 100 * time.Millisecond,
	}, ev
}

// emuClient is a cloud client of env's API with its access key, for a
// test's own calls beside the engine's.
func emuClient(t testing.TB, env *ecsemutest.Env) *cloud.Client {
	t.Helper()
	c, err := cloud.New(cloud.Config{Region: env.RegionID, Endpoint: env.APIURL,
		Credentials: cloud.NewStaticCredentials(env.AccessKeyID, env.AccessKeySecret)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type events struct {
	mu  sync.Mutex
	all []job.Event
}

func (e *events) add(ev job.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) types() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.all {
		out = append(out, ev.Type)
	}
	return out
}

// committedCreates counts the create calls that took effect, by action.
func committedCreates(env *ecsemutest.Env) map[string]int {
	out := map[string]int{}
	for _, c := range env.Emu.Calls() {
		if c.Committed && strings.HasPrefix(c.Action, "Create") && !c.Replayed {
			out[c.Action]++
		}
	}
	return out
}

func TestGroupAndPerDisk(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(fastScenario()))
	eng, ev := newEngine(t, env, cloud.RetryPolicy{})
	res, err := eng.Run(context.Background(), job.Request{
		Reason: "before upgrade", Disks: plan.Selection{Kind: "all"}, Wait: true, RetentionDays: 7,
		Tags: []cloud.Tag{{Key: "team", Value: "db"}},
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Outcome != "succeeded" || res.GroupID == "" || len(res.Snapshots) != 3 {
		t.Fatalf("result = %+v", res)
	}
	for _, s := range res.Snapshots {
		if s.State != job.StateAccomplished || s.Progress != 100 || s.SnapshotID == "" {
			t.Errorf("%s: %+v", s.DiskID, s)
		}
		wantMethod := "group"
		if s.Category == "cloud_efficiency" {
			wantMethod = "per-disk"
		}
		if s.Method != wantMethod {
			t.Errorf("%s (%s) method = %s, want %s", s.DiskID, s.Category, s.Method, wantMethod)
		}
	}
	if got := committedCreates(env); got["CreateSnapshotGroup"] != 1 || got["CreateSnapshot"] != 1 {
		t.Errorf("creates = %v, want one group and one per-disk snapshot", got)
	}
	// Names, descriptions and tags arrive as the API wants them.
	for _, c := range env.Emu.Calls() {
		switch c.Action {
		case "CreateSnapshot":
			p := c.Params
			if p["Description"] != "ecssnap: before upgrade" || p["RetentionDays"] != "7" || !strings.HasPrefix(p["SnapshotName"], "ecssnap-manual-") {
				t.Errorf("CreateSnapshot params = %v", p)
			}
			assertTags(t, p, res.JobID)
		case "CreateSnapshotGroup":
			if _, ok := c.Params["RetentionDays"]; ok {
				t.Error("CreateSnapshotGroup sent RetentionDays, which the API does not take")
			}
			assertTags(t, c.Params, res.JobID)
		}
	}
	if types := ev.types(); types[0] != "plan" || types[len(types)-1] != "done" {
		t.Errorf("events = %v", types)
	}
}

func assertTags(t *testing.T, params map[string]string, jobID string) {
	t.Helper()
	tags := map[string]string{}
	for i := 1; i <= 20; i++ {
		k := params["Tag."+strconv.Itoa(i)+".Key"]
		if k == "" {
			break
		}
		tags[k] = params["Tag."+strconv.Itoa(i)+".Value"]
	}
	want := map[string]string{"ecssnap:managed": "true", "ecssnap:job": jobID, "ecssnap:trigger": "manual",
		"ecssnap:consistency": "crash", "team": "db"}
	for k, v := range want {
		if tags[k] != v {
			t.Errorf("tag %s = %q, want %q (all: %v)", k, tags[k], v, tags)
		}
	}
}

func TestDiskSelection(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(fastScenario()))
	eng, _ := newEngine(t, env, cloud.RetryPolicy{})
	res, err := eng.Run(context.Background(), job.Request{Disks: plan.Selection{Kind: "data"}, Wait: false})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Snapshots {
		if s.DiskType != "data" {
			t.Errorf("--disks data snapshotted %s (%s)", s.DiskID, s.DiskType)
		}
	}
	if len(res.Snapshots) != 2 || res.Outcome != "created" {
		t.Errorf("result = %+v", res)
	}
}

// --no-wait returns once the creates are accepted, with every snapshot ID
// (group members included) and nothing waited for.
func TestNoWait(t *testing.T) {
	sc := fastScenario()
	sc.Speed.Minimum = ecsemu.Duration(time.Hour)
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	eng, _ := newEngine(t, env, cloud.RetryPolicy{})
	res, err := eng.Run(context.Background(), job.Request{Wait: false})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Snapshots {
		if s.SnapshotID == "" || s.State != job.StateCreated {
			t.Errorf("%s: %+v", s.DiskID, s)
		}
	}
	if res.Outcome != "created" || res.Timings.WaitMS != 0 {
		t.Errorf("outcome %s, waited %d ms", res.Outcome, res.Timings.WaitMS)
	}
}

// Throttling, server errors and responses cut after the create took effect:
// every disk still gets exactly one snapshot, within the retry budget.
func TestFaultsNeverDuplicate(t *testing.T) {
	for _, faults := range []ecsemu.Faults{
		{ThrottleRate: 0.5},
		{ErrorRate: 0.3},
		{DropRate: 0.5, Actions: []string{"CreateSnapshot", "CreateSnapshotGroup"}},
		{ThrottleRate: 0.3, ErrorRate: 0.2, DropRate: 0.3},
	} {
		t.Run(faultName(faults), func(t *testing.T) {
			// Fault draws are random per request; repeat the job until the
			// emulator has injected at least one fault, or the test would
			// prove nothing.
			for try := 0; ; try++ {
				env := ecsemutest.Start(t, ecsemutest.WithScenario(fastScenario()), ecsemutest.WithFaults(faults), ecsemutest.WithSeed(int64(7+try)))
				eng, _ := newEngine(t, env, cloud.RetryPolicy{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond, Budget: 20 * time.Second})
				start := time.Now()
				res, err := eng.Run(context.Background(), job.Request{Wait: true})
				if err != nil {
					t.Fatalf("Run: %v (result %+v)", err, res)
				}
				if d := time.Since(start); d > 20*time.Second {
					t.Errorf("took %v", d)
				}
				if got := committedCreates(env); got["CreateSnapshotGroup"] != 1 || got["CreateSnapshot"] != 1 {
					t.Errorf("committed creates = %v, want exactly one group and one snapshot", got)
				}
				faulted := 0
				for _, c := range env.Emu.Calls() {
					if c.Fault != "" {
						faulted++
					}
				}
				if faulted == 0 && try < 10 {
					continue
				}
				if faulted == 0 {
					t.Fatal("the emulator injected no fault in 10 jobs")
				}
				if res.Retries < int64(faulted) {
					t.Errorf("%d faults injected but only %d retries", faulted, res.Retries)
				}
				return
			}
		})
	}
}

func faultName(f ecsemu.Faults) string {
	var parts []string
	if f.ThrottleRate > 0 {
		parts = append(parts, "throttle")
	}
	if f.ErrorRate > 0 {
		parts = append(parts, "5xx")
	}
	if f.DropRate > 0 {
		parts = append(parts, "drop")
	}
	return strings.Join(parts, "+")
}

// Permanent errors end the job with a typed error, and the result still says
// what was and was not created.
func TestPermanentErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*ecsemu.Scenario)
		kind   cloud.Kind
		msg    string // in the error, when set
	}{
		{name: "quota", kind: cloud.KindQuota, mutate: func(sc *ecsemu.Scenario) {
			sc.Quota.ManualSnapshotsPerDisk = 1
			sc.Snapshots = append(sc.Snapshots, ecsemu.Snapshot{ID: "s-old1", DiskID: ecsemu.DemoEfficiencyDiskID, Status: "accomplished"})
		}},
		// A disk busy with someone else's snapshot: busy_test.go.
		// The group call and the per-disk call both fail: the count is of
		// snapshots, not of calls.
		{name: "instance never started", kind: cloud.KindInstanceState, msg: "3 of 3 snapshots not created", mutate: func(sc *ecsemu.Scenario) {
			sc.Instance.NeverStarted = true
		}},
		{name: "wrong secret", kind: cloud.KindAuth, mutate: func(sc *ecsemu.Scenario) {
			// The service knows a newer secret than the one the client holds.
			sc.AccessKeys[0].Secret = "rotated-elsewhere"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := fastScenario()
			clientSecret := sc.AccessKeys[0].Secret
			tt.mutate(sc)
			env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
			env.AccessKeySecret = clientSecret
			eng, _ := newEngine(t, env, cloud.RetryPolicy{Base: time.Millisecond, Budget: 5 * time.Second})
			res, err := eng.Run(context.Background(), job.Request{Wait: true})
			if got := cloud.KindOf(err); got != tt.kind {
				t.Fatalf("err = %v (kind %v), want kind %v", err, got, tt.kind)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
			if res.Outcome != "failed" && res.Outcome != "partial" {
				t.Errorf("outcome = %s", res.Outcome)
			}
			for _, s := range res.Snapshots {
				if s.State == job.StateNotCreated && s.Error == "" {
					t.Errorf("%s not created and no reason given", s.DiskID)
				}
			}
		})
	}
}

// Waiting costs one DescribeSnapshots call per round whatever the number of
// disks: a 16-disk job makes no more calls per round than a 1-disk job.
func TestWaitingCallsDoNotGrowWithDisks(t *testing.T) {
	perRound := map[int]float64{}
	for _, n := range []int{1, 16} {
		sc := fastScenario()
		sc.Disks = nil
		for i := range n {
			sc.Disks = append(sc.Disks, ecsemu.Disk{ID: diskID(i), Serial: diskID(i)[2:], Category: "cloud_efficiency", Type: "data", SizeGiB: 20})
		}
		sc.Speed.Minimum = ecsemu.Duration(300 * time.Millisecond)
		env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
		eng, _ := newEngine(t, env, cloud.RetryPolicy{})
		eng.PollMin, eng.PollMax = 50*time.Millisecond, 50*time.Millisecond
		res, err := eng.Run(context.Background(), job.Request{Wait: true})
		if err != nil {
			t.Fatal(err)
		}
		describes := 0
		for _, c := range env.Emu.Calls() {
			if c.Action == "DescribeSnapshots" && c.Params["SnapshotIds"] != "" { // the waiting rounds
				describes++
			}
		}
		rounds := float64(res.Timings.WaitMS)/50 + 1
		perRound[n] = float64(describes) / rounds
		if perRound[n] > 1.01 {
			t.Errorf("%d disks: %d DescribeSnapshots calls in about %.0f rounds", n, describes, rounds)
		}
	}
}

func diskID(i int) string { return "d-bp1wait" + string(rune('a'+i)) + "0000000000" }

// A job whose context ends while waiting reports a timeout, not a failure
// of the snapshots, which go on in the cloud.
func TestWaitTimeout(t *testing.T) {
	sc := fastScenario()
	sc.Speed.Minimum = ecsemu.Duration(time.Hour)
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	eng, _ := newEngine(t, env, cloud.RetryPolicy{})
	res, err := eng.Run(context.Background(), job.Request{Wait: true, Timeout: 300 * time.Millisecond})
	var to *job.WaitTimeoutError
	if !errors.As(err, &to) || res.Outcome != "timed-out" || to.Pending != 3 {
		t.Fatalf("err = %v, outcome %s", err, res.Outcome)
	}
}
