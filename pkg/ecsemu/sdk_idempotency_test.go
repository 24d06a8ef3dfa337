package ecsemu_test

import (
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
)

func TestClientTokenIdempotency(t *testing.T) {
	env, _, c := startVirtual(t)
	withToken := func(tok, name string) func(*ecs.CreateSnapshotRequest) {
		return func(r *ecs.CreateSnapshotRequest) { r.ClientToken = tok; r.SnapshotName = name }
	}
	first := createSnapshot(t, c, ecsemu.DefaultDataDiskID, withToken("tok-1", "same"))
	again := createSnapshot(t, c, ecsemu.DefaultDataDiskID, withToken("tok-1", "same"))
	if again != first {
		t.Errorf("same token and parameters gave %s, then %s", first, again)
	}
	if n := len(env.Emu.Snapshots()); n != 1 {
		t.Errorf("%d snapshots after a repeated create, want 1", n)
	}
	calls := env.Emu.Calls()
	if last := calls[len(calls)-1]; !last.Replayed || last.Committed || last.Status != 200 {
		t.Errorf("replayed call recorded as %+v", last)
	}

	req := ecs.CreateCreateSnapshotRequest()
	req.DiskId = ecsemu.DefaultDataDiskID
	req.ClientToken = "tok-1"
	req.SnapshotName = "different"
	_, err := c.CreateSnapshot(req)
	wantAPIError(t, err, "IdempotentParameterMismatch", 403)

	// Another token is another snapshot.
	if other := createSnapshot(t, c, ecsemu.DefaultDataDiskID, withToken("tok-2", "same")); other == first {
		t.Error("a new token returned the old snapshot")
	}
}

func TestClientTokenInFlight(t *testing.T) {
	env, _, c := startVirtual(t)
	hold := env.Emu.HoldCalls("CreateSnapshot")
	type result struct {
		id  string
		err error
	}
	done := make(chan result, 1)
	go func() {
		req := ecs.CreateCreateSnapshotRequest()
		req.DiskId = ecsemu.DefaultDataDiskID
		req.ClientToken = "tok-slow"
		resp, err := c.CreateSnapshot(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		done <- result{id: resp.SnapshotId}
	}()
	if tok := <-hold.Arrived(); tok != "tok-slow" {
		t.Fatalf("held call carried token %q", tok)
	}
	// A retry while the first call is still in flight.
	retry := ecs.CreateCreateSnapshotRequest()
	retry.DiskId = ecsemu.DefaultDataDiskID
	retry.ClientToken = "tok-slow"
	_, err := env.ECSClient(t).CreateSnapshot(retry)
	wantAPIError(t, err, "IdempotentProcessing", 403)
	if n := len(env.Emu.Snapshots()); n != 0 {
		t.Errorf("held call took effect early: %d snapshots", n)
	}
	hold.Release()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if again := createSnapshot(t, c, ecsemu.DefaultDataDiskID, func(q *ecs.CreateSnapshotRequest) { q.ClientToken = "tok-slow" }); again != r.id {
		t.Errorf("after completion the token gave %s, want %s", again, r.id)
	}
}

func TestClientTokenFreedByFailure(t *testing.T) {
	env, _, c := startVirtual(t)
	mustOK(t, env.Emu.SetInstanceStatus("Starting"))
	req := ecs.CreateCreateSnapshotRequest()
	req.DiskId = ecsemu.DefaultDataDiskID
	req.ClientToken = "tok-retry"
	_, err := c.CreateSnapshot(req)
	wantAPIError(t, err, "IncorrectInstanceStatus", 403)
	mustOK(t, env.Emu.SetInstanceStatus("Running"))
	createSnapshot(t, c, ecsemu.DefaultDataDiskID, func(r *ecs.CreateSnapshotRequest) { r.ClientToken = "tok-retry" })
}

func TestClientTokenGroups(t *testing.T) {
	env, _, c := startVirtual(t)
	tok := func(r *ecs.CreateSnapshotGroupRequest) { r.ClientToken = "group-tok" }
	a, err := createGroup(c, tok)
	if err != nil {
		t.Fatal(err)
	}
	b, err := createGroup(c, tok)
	if err != nil || a != b {
		t.Fatalf("repeated group create: %s, %s, %v", a, b, err)
	}
	if n := len(env.Emu.State().Groups); n != 1 {
		t.Errorf("%d groups, want 1", n)
	}
	_, err = createGroup(c, func(r *ecs.CreateSnapshotGroupRequest) { r.ClientToken = "group-tok"; r.Name = "other" })
	wantAPIError(t, err, "IdempotentParameterMismatch", 403)
}
