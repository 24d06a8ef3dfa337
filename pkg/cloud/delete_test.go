package cloud_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

func snapshotIDs(e *ecsemu.Emulator) []string {
	var ids []string
	for _, s := range e.Snapshots() {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestDeleteSnapshot(t *testing.T) {
	for _, unknown := range []string{ecsemu.DeleteUnknownError, ecsemu.DeleteUnknownIgnore} {
		t.Run("unknown="+unknown, func(t *testing.T) {
			sc := ecsemu.DefaultScenario()
			sc.Behavior.DeleteUnknownSnapshot = unknown
			sc.Snapshots = []ecsemu.Snapshot{
				{ID: "s-bp1plain", DiskID: ecsemu.DefaultDataDiskID},
				{ID: "s-bp1madedisk", DiskID: ecsemu.DefaultDataDiskID, CreatedDisk: true},
				{ID: "s-bp1madeimage", DiskID: ecsemu.DefaultDataDiskID, CreatedImage: true},
			}
			env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
			cl := staticClient(t, env)
			ctx := context.Background()

			if err := cl.DeleteSnapshot(ctx, "s-bp1plain", false); err != nil {
				t.Fatalf("delete: %v", err)
			}
			// Gone already (or never there): success either way.
			if err := cl.DeleteSnapshot(ctx, "s-bp1plain", false); err != nil {
				t.Errorf("second delete: %v, want nil (already gone)", err)
			}
			var ae *cloud.APIError
			err := cl.DeleteSnapshot(ctx, "s-bp1madedisk", false)
			if !errors.As(err, &ae) || ae.Code != cloud.CodeSnapshotCreatedDisk {
				t.Errorf("delete of a snapshot disks were made from: %v, want %s", err, cloud.CodeSnapshotCreatedDisk)
			}
			err = cl.DeleteSnapshot(ctx, "s-bp1madeimage", true)
			if !errors.As(err, &ae) || ae.Code != cloud.CodeSnapshotCreatedImage {
				t.Errorf("forced delete of an image's snapshot: %v, want %s", err, cloud.CodeSnapshotCreatedImage)
			}
			if err := cl.DeleteSnapshot(ctx, "s-bp1madedisk", true); err != nil {
				t.Errorf("forced delete: %v", err)
			}
			if got, want := snapshotIDs(env.Emu), []string{"s-bp1madeimage"}; !slices.Equal(got, want) {
				t.Errorf("left %v, want %v", got, want)
			}
		})
	}
}

func TestDeleteSnapshotGroupDeletesMembers(t *testing.T) {
	env := ecsemutest.Start(t)
	cl := staticClient(t, env)
	ctx := context.Background()
	id, err := cl.CreateSnapshotGroup(ctx, cloud.CreateGroupInput{InstanceID: env.InstanceID, Name: "ecssnap-del",
		Description: "ecssnap: test", ClientToken: "tok-group-del"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(env.Emu.Snapshots()); n != 2 {
		t.Fatalf("%d snapshots after the group create, want 2", n)
	}
	if err := cl.DeleteSnapshotGroup(ctx, id); err != nil {
		t.Fatalf("delete group: %v", err)
	}
	if left := snapshotIDs(env.Emu); len(left) != 0 || len(env.Emu.State().Groups) != 0 {
		t.Errorf("after DeleteSnapshotGroup: snapshots %v, groups %v; want none", left, env.Emu.State().Groups)
	}
	if err := cl.DeleteSnapshotGroup(ctx, id); err != nil {
		t.Errorf("second delete: %v, want nil (already gone)", err)
	}
}

// The emulator cannot make a group member that an image was created from,
// so the partial answer comes from a canned server on loopback.
func TestDeleteSnapshotGroupReportsKeptMembers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"RequestId":"R1","OperationProgressSet":{"OperationProgress":[
			{"OperationStatus":"Success","ErrorCode":"400","RelatedItemSet":{"RelatedItem":[{"Name":"SnapshotId","Value":"s-gone"}]}},
			{"OperationStatus":"Failed","ErrorCode":"SnapshotCreatedImage","ErrorMsg":"used by an image","RelatedItemSet":{"RelatedItem":[{"Name":"SnapshotId","Value":"s-kept"}]}}]}}`)
	}))
	defer srv.Close()
	creds := cloud.NewStaticCredentials("ak", "secret")
	cl, err := cloud.New(cloud.Config{Region: "cn-hangzhou", Endpoint: srv.URL, Credentials: creds,
		Retry: cloud.RetryPolicy{Base: time.Millisecond, Budget: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	err = cl.DeleteSnapshotGroup(context.Background(), "ssg-x")
	var mk *cloud.MembersKeptError
	if !errors.As(err, &mk) {
		t.Fatalf("err = %v, want *MembersKeptError", err)
	}
	want := []cloud.KeptMember{{SnapshotID: "s-kept", Code: "SnapshotCreatedImage", Message: "used by an image"}}
	if mk.GroupID != "ssg-x" || !slices.Equal(mk.Kept, want) {
		t.Errorf("got %+v, want group ssg-x kept %+v", mk, want)
	}
}

func TestListSnapshotGroupsByTagPages(t *testing.T) {
	clock := ecsemu.NewVirtualClock(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC))
	env := ecsemutest.Start(t, ecsemutest.WithClock(clock))
	cl := staticClient(t, env)
	ctx := context.Background()
	mine := cloud.Tag{Key: "ecssnap:managed", Value: "true"}
	var want []string
	for i := range 130 {
		tags := []cloud.Tag{mine}
		if i%8 == 0 {
			tags = []cloud.Tag{{Key: "team", Value: "db"}}
		}
		id, err := cl.CreateSnapshotGroup(ctx, cloud.CreateGroupInput{InstanceID: env.InstanceID, Name: fmt.Sprintf("ecssnap-page-%d", i),
			Description: "ecssnap: paging", Tags: tags, ClientToken: fmt.Sprintf("tok-page-%d", i)})
		if err != nil {
			t.Fatalf("group %d: %v", i, err)
		}
		if i%8 != 0 {
			want = append(want, id)
		}
		clock.Advance(time.Hour) // let the members finish: ESSD allows 10 tasks at a time
	}
	env.Emu.ResetCalls()
	groups, err := cl.ListSnapshotGroupsByTag(ctx, env.InstanceID, mine)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range groups {
		got = append(got, g.ID)
		if len(g.Members) != 2 || g.Tags["ecssnap:managed"] != "true" || g.Created.IsZero() {
			t.Errorf("group %+v", g)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("listed %d groups, want the %d tagged ones, each once", len(got), len(want))
	}
	if n := countCalls(env.Emu, "DescribeSnapshotGroups"); n != 2 {
		t.Errorf("%d DescribeSnapshotGroups calls for %d groups, want 2 at 100 per page", n, len(want))
	}
}

func TestListManualSnapshots(t *testing.T) {
	sc := ecsemu.DefaultScenario()
	var want []string
	for i := range 130 {
		id := fmt.Sprintf("s-bp1manual%010d", i)
		sc.Snapshots = append(sc.Snapshots, ecsemu.Snapshot{ID: id, DiskID: ecsemu.DefaultDataDiskID, Age: ecsemu.Duration(time.Duration(i+1) * time.Hour)})
		want = append(want, id)
	}
	sc.Snapshots = append(sc.Snapshots,
		ecsemu.Snapshot{ID: "s-bp1auto", DiskID: ecsemu.DefaultDataDiskID, Type: "auto"},
		ecsemu.Snapshot{ID: "s-bp1otherdisk", DiskID: ecsemu.DefaultSystemDiskID})
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	cl := staticClient(t, env)
	snaps, err := cl.ListManualSnapshots(context.Background(), ecsemu.DefaultDataDiskID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range snaps {
		got = append(got, s.ID)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("listed %d snapshots, want the disk's %d manual ones (no auto, no other disk)", len(got), len(want))
	}
}
