package job_test

import (
	"context"
	"net/http/httptrace"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/topology"
)

// describeWatch is a cloud whose DescribeDisks says, through the request
// trace in its context, when "its request is written", as the SDK's HTTP
// client does, and notes whether the guest's layout was being read before.
type describeWatch struct {
	job.Cloud
	writes      bool
	discovering *atomic.Bool
	early       bool // the layout was read before the request was written
	duringCall  bool // ... and while the call was waiting for its answer
}

func (c *describeWatch) DescribeDisks(ctx context.Context, instanceID string) ([]cloud.Disk, error) {
	time.Sleep(50 * time.Millisecond) // building and sending the request
	c.early = c.discovering.Load()
	if c.writes {
		if tr := httptrace.ContextClientTrace(ctx); tr != nil && tr.WroteRequest != nil {
			tr.WroteRequest(httptrace.WroteRequestInfo{})
		}
		deadline := time.Now().Add(5 * time.Second)
		for !c.discovering.Load() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		c.duringCall = c.discovering.Load()
	}
	return c.Cloud.DescribeDisks(ctx, instanceID)
}

// The guest's layout is read once DescribeDisks' request is written, not
// beside its sending (CPU the first requests need on a small machine), and
// not after its answer; a Cloud that writes no request gets it read after
// the answer.
func TestLayoutIsReadOnceTheInventoryRequestIsWritten(t *testing.T) {
	env := ecsemutest.Start(t)
	for _, writes := range []bool{true, false} {
		eng, _ := newEngine(t, env, cloud.RetryPolicy{})
		var discovering atomic.Bool
		discover := topology.New(t.TempDir()).Discover
		eng.Local = job.Local{Discover: func() (*topology.Topology, error) {
			discovering.Store(true)
			return discover()
		}}
		var watch *describeWatch
		newCloud := eng.NewCloud
		eng.NewCloud = func(region string) (job.Cloud, error) {
			cl, err := newCloud(region)
			watch = &describeWatch{Cloud: cl, writes: writes, discovering: &discovering}
			return watch, err
		}
		if _, err := eng.Inventory(context.Background()); err != nil {
			t.Fatal(err)
		}
		if watch.early {
			t.Errorf("writes=%v: the layout was read before the inventory request was written", writes)
		}
		if writes && !watch.duringCall {
			t.Errorf("the layout was not read while the inventory request waited for its answer")
		}
	}
}
