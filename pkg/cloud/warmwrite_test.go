package cloud_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
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
