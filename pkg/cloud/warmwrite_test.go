package cloud_test

import (
	"context"
	"net/http/httptrace"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

const warmChild = "ECSSNAP_TEST_WARM_CHILD"

// TestWarmStartsOnceTheFirstRequestIsWritten: the decoders' warm-up (a
// few milliseconds of CPU) waits for the process's first request to be on
// the wire, and is under way before its answer comes. It runs in a child
// process: the warm-up is once per process.
func TestWarmStartsOnceTheFirstRequestIsWritten(t *testing.T) {
	if os.Getenv(warmChild) == "1" {
		t.Skip("parent-only test")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestWarmStartsOnceTheFirstRequestIsWrittenChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), warmChild+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestWarmStartsOnceTheFirstRequestIsWrittenChild") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestWarmStartsOnceTheFirstRequestIsWrittenChild(t *testing.T) {
	if os.Getenv(warmChild) != "1" {
		t.Skip("runs only as TestWarmStartsOnceTheFirstRequestIsWritten's child")
	}
	const latency = 2 * time.Second
	env := ecsemutest.Start(t, ecsemutest.WithFaults(ecsemu.Faults{Latency: latency}))
	cl, err := cloud.New(cloud.Config{Region: env.RegionID, Endpoint: env.APIURL,
		Credentials: cloud.NewStaticCredentials(env.AccessKeyID, env.AccessKeySecret)})
	if err != nil {
		t.Fatal(err)
	}
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
	if os.Getenv(warmChild) == "1" {
		t.Skip("parent-only test")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestCallersTracesStayTheirOwnChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), warmChild+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestCallersTracesStayTheirOwnChild") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestCallersTracesStayTheirOwnChild(t *testing.T) {
	if os.Getenv(warmChild) != "1" {
		t.Skip("runs only as TestCallersTracesStayTheirOwn's child")
	}
	env := ecsemutest.Start(t, ecsemutest.WithFaults(ecsemu.Faults{Latency: 100 * time.Millisecond}))
	cl, err := cloud.New(cloud.Config{Region: env.RegionID, Endpoint: env.APIURL,
		Credentials: cloud.NewStaticCredentials(env.AccessKeyID, env.AccessKeySecret)})
	if err != nil {
		t.Fatal(err)
	}
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
