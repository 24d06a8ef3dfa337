package daemon

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/plan"
	"github.com/ecssnap/ecssnap/pkg/store"
	"github.com/ecssnap/ecssnap/pkg/topology"
)

// layoutReads is a guest layout that says when each read of it began:
// before or after the worker took the job. Each read fails with its
// number, which the job's warnings carry, so a test learns which read a
// job planned from.
type layoutReads struct {
	mu       sync.Mutex
	draining bool   // the worker runs the queue
	phases   []bool // per read: began while the worker ran the queue
}

func (l *layoutReads) discover() (*topology.Topology, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.phases = append(l.phases, l.draining)
	return nil, fmt.Errorf("layout read %d", len(l.phases))
}

// readOf returns the number of the layout read res planned from.
func readOf(t *testing.T, res *job.Result) int {
	t.Helper()
	for _, w := range res.Warnings {
		var n int
		if _, err := fmt.Sscanf(w, "local disk discovery failed: layout read %d", &n); err == nil {
			return n
		}
	}
	t.Fatalf("the job planned from no layout read: warnings %q", res.Warnings)
	return 0
}

// A job accepted by an idle daemon plans from the guest's layout read
// while its record was written (after its request arrived), not read once
// more after; a job queued behind another reads it when it starts.
func TestPrejoinedLayout(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(quick()))
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	layout := &layoutReads{}
	jobs := NewJobs(JobsOptions{Store: st, ResumeInterrupted: true,
		Engine: emulatorEngine(env, func(e *job.Engine) { e.Local = job.Local{Discover: layout.discover} })})
	jobs.warm = true
	if _, err := jobs.newEngine(nil).RefreshInventory(context.Background()); err != nil {
		t.Fatal(err)
	}
	submit := func() *Job {
		t.Helper()
		e, _, err := jobs.Submit(localapi.CreateJobRequest{Trigger: "manual", Disks: plan.Selection{Kind: "ids", IDs: []string{"d-bp1ecssnapdata000001"}}, Consistency: "crash",
			Wait: localapi.WaitCreated}, localapi.Caller{PID: 1})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	// drain runs the queue once the reads begun by Submit are over: one
	// begun while the worker runs was made for the job when it started.
	drain := func(queued ...*Job) {
		for _, e := range queued {
			if e.prejoin != nil {
				<-e.prejoin.done
			}
		}
		layout.mu.Lock()
		layout.draining = true
		layout.mu.Unlock()
		jobs.Drain(context.Background())
		layout.mu.Lock()
		layout.draining = false
		layout.mu.Unlock()
	}
	result := func(e *Job) *job.Result {
		t.Helper()
		res, err := e.Result()
		if err != nil || res == nil || !res.WarmView {
			t.Fatalf("job %s: %+v, %v; want it planned from the warm view", e.ID(), res, err)
		}
		return res
	}

	reads := func() int { layout.mu.Lock(); defer layout.mu.Unlock(); return len(layout.phases) }
	before := reads()
	first := submit()
	drain(first)
	n := readOf(t, result(first))
	layout.mu.Lock()
	inWorker := layout.phases[n-1]
	layout.mu.Unlock()
	if n <= before {
		t.Fatalf("the job planned from layout read %d, made before it was submitted", n)
	}
	if inWorker {
		t.Errorf("the job planned from a layout read when the worker took it, not beside its record")
	}
	if got := reads() - before; got != 1 {
		t.Errorf("%d layout reads for one job, want the one beside its record", got)
	}

	// Two at once: the second waits behind the first and reads the layout
	// when it starts, after the first's.
	a, b := submit(), submit()
	drain(a, b)
	na, nb := readOf(t, result(a)), readOf(t, result(b))
	if nb <= na {
		t.Errorf("the queued job planned from layout read %d, the one before it from %d: want a later read", nb, na)
	}
	layout.mu.Lock()
	defer layout.mu.Unlock()
	if !layout.phases[nb-1] {
		t.Errorf("the queued job planned from a layout read before it started")
	}
}
