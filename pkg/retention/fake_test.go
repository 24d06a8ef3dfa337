package retention_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/retention"
)

// fakeCloud serves fixed listings and records deletions; fail maps an ID to
// the error its delete returns.
type fakeCloud struct {
	snaps   []cloud.Snapshot
	groups  []cloud.SnapshotGroup
	listErr error
	fail    map[string]error
	deleted []string
}

func (f *fakeCloud) ListSnapshotsByTag(_ context.Context, _ string, tag cloud.Tag) ([]cloud.Snapshot, error) {
	if tag.Key != "ecssnap:managed" || tag.Value != "true" {
		return nil, errors.New("unexpected tag filter")
	}
	return f.snaps, f.listErr
}

func (f *fakeCloud) ListSnapshotGroupsByTag(context.Context, string, cloud.Tag) ([]cloud.SnapshotGroup, error) {
	return f.groups, nil
}

func (f *fakeCloud) ListManualSnapshots(_ context.Context, diskID string) ([]cloud.Snapshot, error) {
	var out []cloud.Snapshot
	for _, s := range f.snaps {
		if s.DiskID == diskID && !slices.Contains(f.deleted, s.ID) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (f *fakeCloud) DeleteSnapshot(_ context.Context, id string, force bool) error {
	if force {
		return errors.New("forced")
	}
	return f.del(id)
}

func (f *fakeCloud) DeleteSnapshotGroup(_ context.Context, id string) error { return f.del(id) }

func (f *fakeCloud) del(id string) error {
	if err := f.fail[id]; err != nil {
		var mk *cloud.MembersKeptError
		if !errors.As(err, &mk) {
			return err
		}
	}
	f.deleted = append(f.deleted, id)
	return f.fail[id]
}

var _ retention.Cloud = (*cloud.Client)(nil)

func TestPruneGoesOnAfterFailures(t *testing.T) {
	transport := &cloud.APIError{Action: "DeleteSnapshot", Resource: "s-1", Kind: cloud.KindTransport, Err: errors.New("connection reset")}
	f := &fakeCloud{
		snaps: []cloud.Snapshot{
			snap("s-1", "j-1", "apt", 50*day), snap("s-2", "j-2", "apt", 45*day), snap("s-3", "j-3", "apt", 40*day),
			snap("s-m1", "j-g", "apt", 35*day),
		},
		groups: []cloud.SnapshotGroup{group("ssg-g", "j-g", "apt", 35*day, "s-m1", "s-m2")},
		fail: map[string]error{
			"s-1": transport,
			"s-2": &cloud.APIError{Action: "DeleteSnapshot", Code: "SnapshotCreatedImage", Status: 403},
			"ssg-g": &cloud.MembersKeptError{GroupID: "ssg-g", Kept: []cloud.KeptMember{
				{SnapshotID: "s-m2", Code: "SnapshotCreatedImage", Message: "in use"}}},
		},
	}
	var logs bytes.Buffer
	rep, err := retention.Prune(context.Background(), f, "i-1", retention.DefaultConfig(),
		retention.Options{Now: func() time.Time { return now }, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := deletedIDs(rep), []string{"s-3", "ssg-g"}; !slices.Equal(got, want) {
		t.Errorf("deleted %v, want %v", got, want)
	}
	var failed []string
	for _, fl := range rep.Failed {
		failed = append(failed, fl.ID)
	}
	if !slices.Equal(failed, []string{"s-1", "s-2", "s-m2"}) || rep.Failed[0].InUse() || !rep.Failed[1].InUse() || !rep.Failed[2].InUse() {
		t.Errorf("failures %+v, want s-1 (transport), s-2 and s-m2 (in use)", rep.Failed)
	}
	if err := rep.Err(); err == nil || !errors.Is(err, transport) || strings.Contains(err.Error(), "s-2") {
		t.Errorf("Report.Err() = %v, want only the transport failure", err)
	}
	if rep.Failed[2].Job != "j-g" || rep.Failed[2].Kind != retention.KindSnapshot {
		t.Errorf("kept member reported as %+v", rep.Failed[2])
	}
	if n := strings.Count(logs.String(), `"msg":"deleted"`); n != 2 {
		t.Errorf("%d deletions logged, want 2:\n%s", n, logs.String())
	}
	out, err := json.Marshal(rep)
	if err != nil || !strings.Contains(string(out), `"in_use":true`) || !strings.Contains(string(out), "connection reset") {
		t.Errorf("report JSON %s, %v", out, err)
	}
}

func TestPruneStopsWhenListingFails(t *testing.T) {
	boom := errors.New("boom")
	f := &fakeCloud{snaps: []cloud.Snapshot{snap("s-1", "j-1", "apt", 90*day)}, listErr: boom}
	_, err := retention.Prune(context.Background(), f, "i-1", retention.DefaultConfig(), retention.Options{})
	if !errors.Is(err, boom) || len(f.deleted) != 0 {
		t.Errorf("err = %v, deleted %v; want the listing error and nothing deleted", err, f.deleted)
	}
}

func TestPruneCancelled(t *testing.T) {
	f := &fakeCloud{snaps: []cloud.Snapshot{snap("s-1", "j-1", "apt", 90*day)}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := retention.Prune(ctx, f, "i-1", retention.DefaultConfig(), retention.Options{})
	if !errors.Is(err, context.Canceled) || len(f.deleted) != 0 {
		t.Errorf("err = %v, deleted %v", err, f.deleted)
	}
}

func TestPruneRejectsBadConfig(t *testing.T) {
	f := &fakeCloud{}
	cfg := retention.Config{Default: retention.Policy{KeepLast: -1}}
	if _, err := retention.Prune(context.Background(), f, "i-1", cfg, retention.Options{}); err == nil {
		t.Error("a negative keep_last was accepted")
	}
}

func TestMakeRoomEvictsJobsDueFirst(t *testing.T) {
	// j-manual is the oldest but within its policy; j-apt-2 is newer but
	// beyond apt's keep-last, so it goes first.
	f := &fakeCloud{snaps: []cloud.Snapshot{
		snap("s-manual", "j-manual", "manual", 20*day),
		snap("s-apt-2", "j-apt-2", "apt", 5*day),
		snap("s-apt-1", "j-apt-1", "apt", 1*day),
	}}
	cfg := retention.Config{Default: retention.Policy{KeepLast: 10}, Triggers: map[string]retention.Policy{"apt": {KeepLast: 1}}}
	rep, err := retention.MakeRoom(context.Background(), f, "i-1", []string{"d-data"}, 3, cfg, retention.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.deleted, []string{"s-apt-2"}) || len(rep.Deleted) != 1 ||
		!strings.Contains(rep.Deleted[0].Reason, `keep-last of trigger "apt"; evicted to make room on disk d-data`) {
		t.Errorf("deleted %v (%+v), want s-apt-2 with its policy reason", f.deleted, rep.Deleted)
	}
}

func TestMakeRoomCountsKeptMembersAndJoinsDisks(t *testing.T) {
	// d-a: a group whose member on d-a is kept by the API, so room is only
	// made by the next job. d-b: full of snapshots ecssnap does not manage.
	f := &fakeCloud{
		snaps: []cloud.Snapshot{
			snap("s-x", "j-x", "apt", 2*day, disk("d-a")),
			{ID: "s-u1", DiskID: "d-b"}, {ID: "s-u2", DiskID: "d-b"},
		},
		groups: []cloud.SnapshotGroup{func() cloud.SnapshotGroup {
			g := group("ssg-1", "j-g", "apt", 9*day, "s-ga", "s-gb")
			g.Members[0].DiskID, g.Members[1].DiskID = "d-a", "d-b"
			return g
		}()},
		fail: map[string]error{"ssg-1": &cloud.MembersKeptError{GroupID: "ssg-1", Kept: []cloud.KeptMember{{SnapshotID: "s-ga", Code: "SnapshotCreatedImage"}}}},
	}
	// The group's members are manual snapshots of their disks too
	// (untagged, as when the engine could not tag them).
	for _, m := range f.groups[0].Members {
		f.snaps = append(f.snaps, cloud.Snapshot{ID: m.SnapshotID, DiskID: m.DiskID, Status: cloud.StatusAccomplished, Created: now.Add(-9 * day)})
	}
	rep, err := retention.MakeRoom(context.Background(), f, "i-1", []string{"d-a", "d-b", "d-a"}, 2, retention.DefaultConfig(), retention.Options{Now: func() time.Time { return now }})
	if got := deletedIDs(rep); !slices.Equal(got, []string{"ssg-1", "s-x"}) {
		t.Errorf("deleted %v, want the group, then s-x since the group's d-a member stayed", got)
	}
	var qf *retention.QuotaFullError
	if !errors.As(err, &qf) || qf.DiskID != "d-b" || qf.Unmanaged != 2 || qf.Managed != 0 {
		t.Errorf("err = %v (%+v), want d-b full of 2 unmanaged snapshots", err, qf)
	}
}
