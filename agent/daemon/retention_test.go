package daemon

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// blockingPrune is retention that takes as long as its caller lets it:
// until release is closed, or its ctx ends.
type blockingPrune struct {
	mu        sync.Mutex
	started   chan struct{} // one value per run begun
	release   chan struct{}
	completed int
	gaveWay   int
}

func (p *blockingPrune) prune(ctx context.Context) (int, error) {
	p.started <- struct{}{}
	select {
	case <-p.release:
		p.mu.Lock()
		p.completed++
		p.mu.Unlock()
		return 1, nil
	case <-ctx.Done():
		p.mu.Lock()
		p.gaveWay++
		p.mu.Unlock()
		return 0, ctx.Err()
	}
}

func (p *blockingPrune) counts() (completed, gaveWay int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.completed, p.gaveWay
}

// A job submitted right after a successful one does not wait for the
// retention that job is owed, nor does one submitted while retention
// runs; retention still runs, once the queue is idle.
func TestRetentionWaitsForAnIdleQueue(t *testing.T) {
	p := &blockingPrune{started: make(chan struct{}, 8), release: make(chan struct{})}
	d := startDaemonWith(t, quick(), nil, func(o *Options) {
		o.Prune = p.prune
		o.RetentionIdle = 150 * time.Millisecond
	})
	ctx := context.Background()
	req := localapi.CreateJobRequest{Trigger: "manual", Disks: plan.Selection{Kind: "ids", IDs: []string{"d-bp1ecssnapdata000001"}}, Consistency: "crash", Wait: localapi.WaitCreated}
	// runJob submits a job and returns how long it took to be created,
	// once it ended.
	runJob := func() time.Duration {
		t.Helper()
		start := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		v, err := d.client.CreateJob(cctx, req)
		if err != nil {
			t.Fatalf("a job was not created within 5 s (%v): it waited for retention", err)
		}
		took := time.Since(start)
		if v.Result == nil || v.Result.Outcome != "created" {
			t.Fatalf("job %s answered %+v", v.ID, v.Result)
		}
		if err := d.client.Events(ctx, v.ID, func(job.Event) {}); err != nil {
			t.Fatal(err)
		}
		return took
	}
	// Retention blocks until released: a job queued behind it would wait
	// that long; this bound is far above a job's own time here.
	const bound = 2 * time.Second

	runJob()
	// Right after the first job's end, before the queue was idle long.
	if took := runJob(); took > bound {
		t.Errorf("a job submitted right after a successful one took %v to be created: it waited for retention", took)
	}
	select {
	case <-p.started:
	case <-time.After(5 * time.Second):
		t.Fatal("retention did not run once the queue was idle")
	}
	// Retention runs (and would block): a job gets the worker anyway.
	if took := runJob(); took > bound {
		t.Errorf("a job submitted while retention ran took %v to be created", took)
	}
	if _, gaveWay := p.counts(); gaveWay != 1 {
		t.Errorf("retention gave way %d times, want 1", gaveWay)
	}
	// Still owed: it runs again once the queue is idle, and completes.
	select {
	case <-p.started:
	case <-time.After(5 * time.Second):
		t.Fatal("retention that gave way to a job did not run again")
	}
	close(p.release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if completed, _ := p.counts(); completed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("retention did not complete")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Nothing more is owed: an idle daemon does not run it again.
	time.Sleep(500 * time.Millisecond)
	if completed, gaveWay := p.counts(); completed != 1 || gaveWay != 1 || len(p.started) != 0 {
		t.Errorf("retention ran %d+%d times (%d more begun), want 1 complete and 1 cut short", completed, gaveWay, len(p.started))
	}
}

// The daily run goes through the worker too: it runs once the queue is
// idle, never beside a job.
func TestDailyRetentionRunsInTheWorker(t *testing.T) {
	p := &blockingPrune{started: make(chan struct{}, 8), release: make(chan struct{})}
	close(p.release)
	jobs := NewJobs(JobsOptions{})
	jobs.afterSuccess = func(ctx context.Context) { p.prune(ctx) }
	jobs.afterSuccessIdle = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); jobs.Run(ctx) }()
	defer func() { cancel(); <-done }()
	jobs.oweRetention()
	select {
	case <-p.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the daily retention did not run")
	}
}
