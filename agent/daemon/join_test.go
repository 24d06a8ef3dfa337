package daemon

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/plan"
	"github.com/ecssnap/ecssnap/pkg/store"
)

func sel(kind string, ids ...string) plan.Selection { return plan.Selection{Kind: kind, IDs: ids} }

// A request joins a job only when the job gives it what it asked for.
func TestCovers(t *testing.T) {
	done := func(req job.Request, level, outcome string, snaps ...job.SnapshotResult) *Job {
		return &Job{req: req, rec: &store.Record{State: store.StateDone,
			Result: &job.Result{Consistency: level, Outcome: outcome, Snapshots: snaps}}}
	}
	queued := func(req job.Request) *Job { return &Job{req: req, rec: &store.Record{State: store.StateQueued}} }
	ok := func(id, typ string) job.SnapshotResult {
		return job.SnapshotResult{DiskID: id, DiskType: typ, SnapshotID: "s-" + id, State: job.StateCreated}
	}
	crash, fs := job.LevelCrash, job.LevelFS
	all := job.Request{Disks: sel("all"), Consistency: crash}
	data := job.Request{Disks: sel("data"), Consistency: crash}
	for _, tc := range []struct {
		name string
		have *Job
		want job.Request
		ok   bool
	}{
		{"all covers data", queued(all), data, true},
		{"data does not cover all", queued(data), all, false},
		{"data covers data", queued(data), data, true},
		{"crash does not cover fs", queued(all), job.Request{Disks: sel("all"), Consistency: fs}, false},
		{"default asks for fs", queued(all), job.Request{Disks: sel("all")}, false},
		{"fs covers crash", queued(job.Request{Disks: sel("all"), Consistency: fs}), data, true},
		{"ids subset", queued(job.Request{Disks: sel("ids", "d-a", "d-b"), Consistency: crash}), job.Request{Disks: sel("ids", "d-b"), Consistency: crash}, true},
		{"nonexistent disk job covers nothing else", queued(job.Request{Disks: sel("ids", "d-nope"), Consistency: crash}), all, false},
		{"ids not covered", queued(job.Request{Disks: sel("ids", "d-a"), Consistency: crash}), job.Request{Disks: sel("ids", "d-b"), Consistency: crash}, false},
		{"mounts covered by all", queued(all), job.Request{Disks: sel("all"), Mounts: []string{"/var"}, Consistency: crash}, true},
		{"mounts not covered by other mounts", queued(job.Request{Disks: sel("all"), Mounts: []string{"/"}, Consistency: crash}),
			job.Request{Disks: sel("all"), Mounts: []string{"/var"}, Consistency: crash}, false},
		{"mount job does not cover all", queued(job.Request{Disks: sel("all"), Mounts: []string{"/"}, Consistency: crash}), all, false},
		{"inconsistent does not cover consistent", queued(job.Request{Disks: sel("all"), Consistency: crash, AllowInconsistent: true}), all, false},
		{"dry run does not cover a real request", queued(job.Request{Disks: sel("all"), Consistency: crash, DryRun: true}), all, false},
		{"finished at crash covers crash", done(all, "crash", "succeeded", ok("d-a", "system")), all, true},
		{"finished at crash does not cover fs", done(all, "crash", "succeeded", ok("d-a", "system")),
			job.Request{Disks: sel("all"), Consistency: fs}, false},
		{"finished degraded covers the same ask", done(job.Request{Disks: sel("all"), Consistency: fs}, "crash", "degraded", ok("d-a", "system")),
			job.Request{Disks: sel("all"), Consistency: fs}, true},
		{"finished degraded does not cover a higher ask", done(job.Request{Disks: sel("all"), Consistency: fs}, "crash", "degraded", ok("d-a", "system")),
			job.Request{Disks: sel("all"), Consistency: job.LevelApp}, false},
		{"finished with the same default covers it", done(job.Request{Disks: sel("all")}, "crash", "degraded", ok("d-a", "system")),
			job.Request{Disks: sel("all")}, true},
		{"finished below the required level", done(all, "crash", "succeeded", ok("d-a", "system")),
			job.Request{Disks: sel("all"), Consistency: fs, Require: fs}, false},
		{"finished with a failed snapshot", done(all, "crash", "partial", ok("d-a", "system"), job.SnapshotResult{DiskID: "d-b", State: job.StateFailed}), data, false},
		{"finished without snapshots", done(all, "crash", "succeeded"), data, false},
		{"finished ids job covers the system disk it took", done(job.Request{Disks: sel("ids", "d-a"), Consistency: crash}, "crash", "succeeded", ok("d-a", "system")),
			job.Request{Disks: sel("system"), Consistency: crash}, true},
		{"failed", &Job{req: all, failed: true, rec: &store.Record{State: store.StateDone}}, data, false},
	} {
		if got := covers(tc.have, tc.want); got != tc.ok {
			t.Errorf("%s: covers = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

// The queue has bounds: per uid for everyone but root, and in all.
func TestQueueBounds(t *testing.T) {
	now := time.Now()
	jobs := NewJobs(JobsOptions{Now: func() time.Time { return now }, Limits: QueueLimits{Max: 5, PerUID: 2}})
	req := localapi.CreateJobRequest{Trigger: "manual", Disks: sel("all"), Force: true}
	member := localapi.Caller{UID: 1000}
	for i := range 2 {
		if _, _, err := jobs.Submit(req, member); err != nil {
			t.Fatalf("member job %d: %v", i, err)
		}
	}
	_, _, err := jobs.Submit(req, member)
	var busy *BusyError
	if !errors.As(err, &busy) || !strings.Contains(err.Error(), "uid 1000 already has 2 jobs waiting") {
		t.Fatalf("third member job: %v, want a BusyError naming the uid", err)
	}
	if _, _, err := jobs.Submit(req, localapi.Caller{UID: 1001}); err != nil {
		t.Errorf("another uid refused: %v", err)
	}
	for i := range 2 {
		if _, _, err := jobs.Submit(req, localapi.Caller{UID: 0}); err != nil {
			t.Fatalf("root job %d: %v", i, err)
		}
	}
	if _, _, err := jobs.Submit(req, localapi.Caller{UID: 0}); !errors.As(err, &busy) || !strings.Contains(err.Error(), "5 jobs waiting") {
		t.Errorf("job beyond the total: %v", err)
	}
	// A request that joins a queued job takes no place in the queue.
	hook := localapi.CreateJobRequest{Trigger: "manual", Disks: sel("all"), Session: "s", Consistency: "crash"}
	jobs = NewJobs(JobsOptions{Now: func() time.Time { return now }, Limits: QueueLimits{Max: 1, PerUID: 1}})
	if _, _, err := jobs.Submit(hook, member); err != nil {
		t.Fatal(err)
	}
	if _, joined, err := jobs.Submit(hook, member); err != nil || !joined {
		t.Errorf("joining request: joined %v, err %v", joined, err)
	}
}

// The API's requests get the configured defaults, like the CLI's.
func TestSubmitAppliesDefaults(t *testing.T) {
	jobs := NewJobs(JobsOptions{Engine: func(func(job.Event)) *job.Engine {
		return &job.Engine{Defaults: job.Defaults{Consistency: job.LevelCrash, RetentionDays: func(trigger string, important bool) int {
			if important {
				return 400
			}
			return 37
		}}}
	}})
	e, _, err := jobs.Submit(localapi.CreateJobRequest{Disks: sel("all")}, localapi.Caller{UID: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if e.req.Consistency != job.LevelCrash || e.req.RetentionDays != 37 || e.req.Trigger != "manual" {
		t.Errorf("request %+v, want crash, 37 days, trigger manual", e.req)
	}
	e, _, err = jobs.Submit(localapi.CreateJobRequest{Disks: sel("all"), Consistency: "fs", RetentionDays: 3,
		Tags: []cloud.Tag{{Key: job.TagImportant, Value: "true"}}}, localapi.Caller{UID: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if e.req.Consistency != job.LevelFS || e.req.RetentionDays != 3 {
		t.Errorf("explicit values overridden: %+v", e.req)
	}
}
