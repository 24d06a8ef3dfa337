package ecsemu_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

func lastCall(t *testing.T, env *ecsemutest.Env) ecsemu.Call {
	t.Helper()
	calls := env.Emu.Calls()
	if len(calls) == 0 {
		t.Fatal("no calls recorded")
	}
	return calls[len(calls)-1]
}

func TestThrottleFault(t *testing.T) {
	env, _, c := startVirtual(t, ecsemutest.WithFaults(ecsemu.Faults{ThrottleRate: 1}))
	_, err := c.DescribeDisks(ecs.CreateDescribeDisksRequest())
	wantAPIError(t, err, "Throttling.User", 400)
	req := ecs.CreateCreateSnapshotRequest()
	req.DiskId = ecsemu.DefaultDataDiskID
	_, err = c.CreateSnapshot(req)
	wantAPIError(t, err, "Throttling", 403)
	if call := lastCall(t, env); call.Fault != ecsemu.FaultThrottle || call.Committed {
		t.Errorf("throttled call recorded as %+v", call)
	}
	if n := len(env.Emu.Snapshots()); n != 0 {
		t.Errorf("throttled create took effect: %d snapshots", n)
	}
	// Scoped to actions.
	mustOK(t, env.Emu.SetFaults(ecsemu.Faults{ThrottleRate: 1, Actions: []string{"CreateSnapshot"}}))
	if _, err := c.DescribeDisks(ecs.CreateDescribeDisksRequest()); err != nil {
		t.Errorf("DescribeDisks throttled by a CreateSnapshot-only fault: %v", err)
	}
}

func TestErrorFault(t *testing.T) {
	env, _, c := startVirtual(t, ecsemutest.WithFaults(ecsemu.Faults{ErrorRate: 1}))
	seen := map[string]bool{}
	for range 20 {
		req := ecs.CreateCreateSnapshotRequest()
		req.DiskId = ecsemu.DefaultDataDiskID
		_, err := c.CreateSnapshot(req)
		var se *sdkerrors.ServerError
		if !errors.As(err, &se) {
			t.Fatalf("err = %v", err)
		}
		switch {
		case se.ErrorCode() == "InternalError" && se.HttpStatus() == 500,
			se.ErrorCode() == "ServiceUnavailable" && se.HttpStatus() == 503:
			seen[se.ErrorCode()] = true
		default:
			t.Fatalf("got %d %s", se.HttpStatus(), se.ErrorCode())
		}
	}
	if !seen["InternalError"] || !seen["ServiceUnavailable"] {
		t.Errorf("20 errors were not a mix of 500 and 503: %v", seen)
	}
	if call := lastCall(t, env); call.Fault != ecsemu.FaultError || call.Committed {
		t.Errorf("failed call recorded as %+v", call)
	}
	if n := len(env.Emu.Snapshots()); n != 0 {
		t.Errorf("5xx create took effect: %d snapshots", n)
	}
}

func TestDropFaultCommitsThenRetryReturnsSameID(t *testing.T) {
	env, _, c := startVirtual(t, ecsemutest.WithFaults(ecsemu.Faults{DropRate: 1, Actions: []string{"CreateSnapshot"}}))
	req := ecs.CreateCreateSnapshotRequest()
	req.DiskId = ecsemu.DefaultDataDiskID
	req.ClientToken = "drop-me"
	_, err := c.CreateSnapshot(req)
	var se *sdkerrors.ServerError
	if err == nil || errors.As(err, &se) {
		t.Fatalf("dropped call: err = %v, want a transport error", err)
	}
	call := lastCall(t, env)
	if call.Fault != ecsemu.FaultDrop || !call.Committed {
		t.Errorf("dropped call recorded as %+v", call)
	}
	snaps := env.Emu.Snapshots()
	if len(snaps) != 1 {
		t.Fatalf("%d snapshots after a dropped create, want 1 (committed)", len(snaps))
	}
	mustOK(t, env.Emu.SetFaults(ecsemu.Faults{}))
	id := createSnapshot(t, c, ecsemu.DefaultDataDiskID, func(r *ecs.CreateSnapshotRequest) { r.ClientToken = "drop-me" })
	if id != snaps[0].ID {
		t.Errorf("retry returned %s, want the committed %s", id, snaps[0].ID)
	}
	if n := len(env.Emu.Snapshots()); n != 1 {
		t.Errorf("%d snapshots after the retry", n)
	}
}

func TestRPSLimit(t *testing.T) {
	// 0.001 RPS: the one-call burst, then nothing for 1000 s.
	env, _, c := startVirtual(t, ecsemutest.WithFaults(ecsemu.Faults{RPS: 0.001}))
	if _, err := c.DescribeInstances(ecs.CreateDescribeInstancesRequest()); err != nil {
		t.Fatal(err)
	}
	_, err := c.DescribeInstances(ecs.CreateDescribeInstancesRequest())
	wantAPIError(t, err, "Throttling.User", 400)
	req := ecs.CreateCreateSnapshotRequest()
	req.DiskId = ecsemu.DefaultDataDiskID
	_, err = c.CreateSnapshot(req)
	wantAPIError(t, err, "Throttling", 403)
	mustOK(t, env.Emu.SetFaults(ecsemu.Faults{}))
	if _, err := c.DescribeInstances(ecs.CreateDescribeInstancesRequest()); err != nil {
		t.Errorf("after lifting the limit: %v", err)
	}
}

func TestLatencyFault(t *testing.T) {
	_, _, c := startVirtual(t, ecsemutest.WithFaults(ecsemu.Faults{Latency: 50 * time.Millisecond, LatencyJitter: 10 * time.Millisecond}))
	start := time.Now()
	if _, err := c.DescribeInstances(ecs.CreateDescribeInstancesRequest()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("call took %v, want at least the 50ms latency", d)
	}
}

// The same seed gives the same fault draws and IDs.
func TestSeededFaultsAreReproducible(t *testing.T) {
	run := func() []string {
		env, _, c := startVirtual(t, ecsemutest.WithSeed(42), ecsemutest.WithFaults(ecsemu.Faults{ThrottleRate: 0.5}))
		var out []string
		for range 20 {
			req := ecs.CreateCreateSnapshotRequest()
			req.DiskId = ecsemu.DefaultDataDiskID
			resp, err := c.CreateSnapshot(req)
			if err != nil {
				out = append(out, "throttled")
				continue
			}
			out = append(out, resp.SnapshotId)
			// Free the disk for the next one.
			del := ecs.CreateDeleteSnapshotRequest()
			del.SnapshotId = resp.SnapshotId
			mustOK(t, env.Emu.SetFaults(ecsemu.Faults{}))
			if _, err := c.DeleteSnapshot(del); err != nil {
				t.Fatal(err)
			}
			mustOK(t, env.Emu.SetFaults(ecsemu.Faults{ThrottleRate: 0.5}))
		}
		return out
	}
	a, b := run(), run()
	throttled := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("run differs at call %d: %s vs %s", i, a[i], b[i])
		}
		if a[i] == "throttled" {
			throttled++
		}
	}
	if throttled == 0 || throttled == len(a) {
		t.Errorf("%d of %d throttled at rate 0.5", throttled, len(a))
	}
}

// Fault draws depend on the request, not on the order requests arrive in,
// so concurrent callers see the same faults on every run with one seed.
func TestFaultDrawsIndependentOfOrder(t *testing.T) {
	outcomes := func(order []string) map[string][]bool {
		_, _, c := startVirtual(t, manyDisksOption(6), ecsemutest.WithSeed(9), ecsemutest.WithFaults(ecsemu.Faults{ThrottleRate: 0.5}))
		got := map[string][]bool{}
		for range 3 {
			for _, d := range order {
				req := ecs.CreateDescribeDisksRequest()
				req.DiskIds = `["` + d + `"]`
				_, err := c.DescribeDisks(req)
				got[d] = append(got[d], err != nil)
			}
		}
		return got
	}
	order := []string{diskID(0), diskID(1), diskID(2), diskID(3), diskID(4), diskID(5)}
	a := outcomes(order)
	slices.Reverse(order)
	b := outcomes(order)
	throttled := 0
	for d, oa := range a {
		if !slices.Equal(oa, b[d]) {
			t.Errorf("%s: %v in one order, %v in the other", d, oa, b[d])
		}
		for _, x := range oa {
			if x {
				throttled++
			}
		}
	}
	if throttled == 0 || throttled == 18 {
		t.Errorf("%d of 18 calls throttled at rate 0.5", throttled)
	}
}

func manyDisksOption(n int) ecsemutest.Option { return ecsemutest.WithScenario(manyDisks(n, 10)) }
