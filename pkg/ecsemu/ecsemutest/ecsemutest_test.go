package ecsemutest_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

func TestStartDefaults(t *testing.T) {
	env := ecsemutest.Start(t)
	if env.AccessKeyID != ecsemu.DefaultAccessKeyID || env.AccessKeySecret != ecsemu.DefaultAccessKeySecret ||
		env.RegionID != ecsemu.DefaultRegion || env.InstanceID != ecsemu.DefaultInstanceID || env.CAFile != "" {
		t.Errorf("env = %+v", env)
	}
	if !strings.HasPrefix(env.APIURL, "http://127.0.0.1:") || env.APIURL != "http://"+env.APIHost {
		t.Errorf("APIURL %s APIHost %s", env.APIURL, env.APIHost)
	}
	resp, err := env.ECSClient(t).DescribeDisks(ecs.CreateDescribeDisksRequest())
	if err != nil || len(resp.Disks.Disk) != 2 {
		t.Fatalf("DescribeDisks: %v", err)
	}
}

func TestStartOptions(t *testing.T) {
	clock := ecsemu.NewVirtualClock(time.Now())
	sc := ecsemu.DemoScenario()
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc), ecsemutest.WithClock(clock), ecsemutest.WithTLS(),
		ecsemutest.WithSeed(3), ecsemutest.WithFaults(ecsemu.Faults{IMDSLatency: time.Millisecond}))
	if env.Emu.Seed() != 3 || env.Emu.Clock() != clock || env.Emu.Faults().IMDSLatency != time.Millisecond {
		t.Errorf("options not applied: seed %d faults %+v", env.Emu.Seed(), env.Emu.Faults())
	}
	if _, err := os.Stat(env.CAFile); err != nil || !strings.HasPrefix(env.APIURL, "https://") {
		t.Fatalf("TLS: %s %v", env.APIURL, err)
	}
	resp, err := env.ECSClient(t).DescribeDisks(ecs.CreateDescribeDisksRequest())
	if err != nil || len(resp.Disks.Disk) != 3 {
		t.Fatalf("DescribeDisks over TLS: %v", err)
	}
	// HTTP_PROXY in the environment must not divert the client.
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	if _, err := env.ECSClient(t).DescribeInstances(ecs.CreateDescribeInstancesRequest()); err != nil {
		t.Errorf("with a proxy in the environment: %v", err)
	}
}
