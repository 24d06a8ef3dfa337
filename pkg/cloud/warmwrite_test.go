package cloud_test

import (
	"context"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// TestWarmStartsOnceTheFirstRequestIsWritten: the decoders' warm-up (a
// few milliseconds of CPU) waits for the process's first request to be on
// the wire, and is under way before its answer comes. It runs in a child
// process: the warm-up is once per process.
func TestWarmStartsOnceTheFirstRequestIsWritten(t *testing.T) {
	runChild(t, "TestWarmStartsOnceTheFirstRequestIsWrittenChild")
}

func TestWarmStartsOnceTheFirstRequestIsWrittenChild(t *testing.T) {
	onlyInChild(t)
	const latency = 2 * time.Second
	env := ecsemutest.Start(t, ecsemutest.WithFaults(ecsemu.Faults{Latency: latency}))
	cl := staticClient(t, env)
	if cloud.WarmStarted() {
		t.Fatal("the warm-up started before any request")
	}
	answered := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := cl.DescribeDisks(context.Background(), env.InstanceID)
		answered <- err
	}()
	for !cloud.WarmStarted() {
		select {
		case err := <-answered:
			t.Fatalf("answered (%v) before the warm-up started", err)
		case <-time.After(time.Millisecond):
		}
	}
	if waited := time.Since(start); waited > latency/2 {
		t.Errorf("the warm-up started %v after the request, want it once the request is written", waited)
	}
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
}

// TestCallersTracesStayTheirOwn: a caller's request trace (the engine's
// "request written" hook) sees its own request only, also for the first
// requests of a process, which the warm-up's trace joins. A single trace
// shared by every request was rewritten by each composition (a data race,
// and one caller's hook fired for another's request).
func TestCallersTracesStayTheirOwn(t *testing.T) {
	runChild(t, "TestCallersTracesStayTheirOwnChild")
}

func TestCallersTracesStayTheirOwnChild(t *testing.T) {
	onlyInChild(t)
	env := ecsemutest.Start(t, ecsemutest.WithFaults(ecsemu.Faults{Latency: 100 * time.Millisecond}))
	cl := staticClient(t, env)
	const callers = 4
	var written [callers]atomic.Int32
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				WroteRequest: func(httptrace.WroteRequestInfo) { written[i].Add(1) }})
			if _, err := cl.DescribeDisks(ctx, env.InstanceID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range callers {
		if n := written[i].Load(); n != 1 {
			t.Errorf("caller %d's trace saw %d requests written, want its own one", i, n)
		}
	}
}
