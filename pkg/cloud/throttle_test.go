package cloud_test

import (
	"context"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// Throttling is retried for ThrottleBudget, other temporary failures for
// Budget: a busy account is waited out longer than a failing service.
func TestThrottleBudget(t *testing.T) {
	const budget, throttleBudget = 300 * time.Millisecond, 1500 * time.Millisecond
	tests := []struct {
		name     string
		faults   ecsemu.Faults
		kind     cloud.Kind
		min, max time.Duration
	}{
		{"throttled", ecsemu.Faults{ThrottleRate: 1}, cloud.KindThrottled, throttleBudget - 300*time.Millisecond, throttleBudget + time.Second},
		{"server errors", ecsemu.Faults{ErrorRate: 1}, cloud.KindServer, 0, budget + time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := ecsemutest.Start(t, ecsemutest.WithFaults(tt.faults))
			cl, err := cloud.New(cloud.Config{Region: env.RegionID, Endpoint: env.APIURL,
				Credentials: cloud.NewStaticCredentials(env.AccessKeyID, env.AccessKeySecret),
				Retry:       cloud.RetryPolicy{Base: time.Millisecond, Max: 20 * time.Millisecond, Budget: budget, ThrottleBudget: throttleBudget}})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = cl.DescribeDisks(context.Background(), env.InstanceID)
			took := time.Since(start)
			if got := cloud.KindOf(err); got != tt.kind {
				t.Fatalf("err = %v (kind %v), want %v", err, got, tt.kind)
			}
			if took < tt.min || took > tt.max {
				t.Errorf("gave up after %v, want between %v and %v", took, tt.min, tt.max)
			}
		})
	}
}

// By default a throttled call may retry five times as long as others.
func TestThrottleBudgetDefault(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithFaults(ecsemu.Faults{ThrottleRate: 1}))
	cl, err := cloud.New(cloud.Config{Region: env.RegionID, Endpoint: env.APIURL,
		Credentials: cloud.NewStaticCredentials(env.AccessKeyID, env.AccessKeySecret),
		Retry:       cloud.RetryPolicy{Base: time.Millisecond, Max: 20 * time.Millisecond, Budget: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := cl.DescribeDisks(context.Background(), env.InstanceID); cloud.KindOf(err) != cloud.KindThrottled {
		t.Fatalf("err = %v, want throttling", err)
	}
	if took := time.Since(start); took < 700*time.Millisecond || took > 2*time.Second {
		t.Errorf("gave up after %v, want about %d x 200ms", took, cloud.ThrottleBudgetFactor)
	}
}
