package retention_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/retention"
)

const (
	dataDisk = ecsemu.DefaultDataDiskID
	sysDisk  = ecsemu.DefaultSystemDiskID
)

var t0 = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

// staticClient is a cloud client for the emulator with its static key and
// fast retries.
func staticClient(t *testing.T, env *ecsemutest.Env) *cloud.Client {
	t.Helper()
	creds := cloud.NewStaticCredentials(env.AccessKeyID, env.AccessKeySecret)
	cl, err := cloud.New(cloud.Config{Region: env.RegionID, Endpoint: env.APIURL, Credentials: creds,
		Retry: cloud.RetryPolicy{Base: time.Millisecond, Max: 10 * time.Millisecond, Budget: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// managed returns ecssnap's tags for a job, plus extra key/value pairs.
func managed(job, trigger string, extra ...string) map[string]string {
	m := map[string]string{"ecssnap:managed": "true", "ecssnap:job": job, "ecssnap:trigger": trigger, "ecssnap:consistency": "crash"}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

func asTags(m map[string]string) []cloud.Tag {
	var out []cloud.Tag
	for k, v := range m {
		out = append(out, cloud.Tag{Key: k, Value: v})
	}
	return out
}

// createGroup makes a group of both default disks the way the job engine
// does: tags on the group, then (if tagMembers) the same tags on members.
func createGroup(t *testing.T, cl *cloud.Client, env *ecsemutest.Env, job, trigger string, tagMembers bool) (string, []string) {
	t.Helper()
	ctx := context.Background()
	tags := asTags(managed(job, trigger))
	id, err := cl.CreateSnapshotGroup(ctx, cloud.CreateGroupInput{InstanceID: env.InstanceID, Name: "ecssnap-" + job,
		Description: "ecssnap: test", Tags: tags, ClientToken: "tok-" + job})
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	groups, err := cl.DescribeSnapshotGroups(ctx, env.InstanceID, []string{id})
	if err != nil || len(groups) != 1 {
		t.Fatalf("describe group: %v %v", groups, err)
	}
	var members []string
	for _, m := range groups[0].Members {
		members = append(members, m.SnapshotID)
	}
	if tagMembers {
		if err := cl.TagSnapshots(ctx, members, tags); err != nil {
			t.Fatalf("tag members: %v", err)
		}
	}
	return id, members
}

func calls(e *ecsemu.Emulator, action string) []ecsemu.Call {
	var out []ecsemu.Call
	for _, c := range e.Calls() {
		if c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

// missing returns those of ids the emulator no longer holds.
func missing(e *ecsemu.Emulator, ids ...string) []string {
	have := map[string]bool{}
	for _, s := range e.Snapshots() {
		have[s.ID] = true
	}
	var out []string
	for _, id := range ids {
		if !have[id] {
			out = append(out, id)
		}
	}
	return out
}

func deletedIDs(rep retention.Report) []string {
	var out []string
	for _, d := range rep.Deleted {
		out = append(out, d.ID)
	}
	return out
}

// pruneWorld is an instance with ecssnap's snapshots of two triggers, an
// important job, snapshots that are not ecssnap's, a snapshot a disk was
// created from, and two groups, 20 days apart.
type pruneWorld struct {
	env              *ecsemutest.Env
	cl               *cloud.Client
	clock            *ecsemu.VirtualClock
	oldGroup         string
	oldMembers       []string
	newGroup         string
	newMembers       []string
	keptIDs, goneIDs []string
}

var pruneConfig = retention.Config{
	Default: retention.Policy{KeepLast: 10},
	Triggers: map[string]retention.Policy{
		"apt":    {KeepLast: 3},
		"manual": {MaxAge: 30 * day},
	},
	// Important: no limit.
}

func newPruneWorld(t *testing.T) *pruneWorld {
	w := &pruneWorld{clock: ecsemu.NewVirtualClock(t0)}
	end := t0.Add(20*day + time.Hour) // "now" once the groups exist
	at := func(age time.Duration) time.Time { return end.Add(-age) }
	sc := ecsemu.DefaultScenario()
	sc.Snapshots = []ecsemu.Snapshot{
		{ID: "s-apt-1", DiskID: dataDisk, CreationTime: at(1 * day), Tags: managed("j-apt-1", "apt")},
		{ID: "s-apt-2", DiskID: dataDisk, CreationTime: at(2 * day), Tags: managed("j-apt-2", "apt")},
		{ID: "s-apt-3", DiskID: dataDisk, CreationTime: at(3 * day), Tags: managed("j-apt-3", "apt")},
		{ID: "s-apt-4", DiskID: dataDisk, CreationTime: at(4 * day), Tags: managed("j-apt-4", "apt")},
		{ID: "s-apt-4b", DiskID: sysDisk, CreationTime: at(4 * day), Tags: managed("j-apt-4", "apt")},
		{ID: "s-apt-inuse", DiskID: dataDisk, CreationTime: at(5 * day), Tags: managed("j-apt-5", "apt"), CreatedDisk: true},
		{ID: "s-man-10", DiskID: sysDisk, CreationTime: at(10 * day), Tags: managed("j-man-10", "manual")},
		{ID: "s-man-40", DiskID: sysDisk, CreationTime: at(40 * day), Tags: managed("j-man-40", "manual")},
		{ID: "s-important", DiskID: dataDisk, CreationTime: at(100 * day), Tags: managed("j-imp", "apt", "ecssnap:important", "true")},
		{ID: "s-user-plain", DiskID: dataDisk, CreationTime: at(400 * day)},
		{ID: "s-user-false", DiskID: dataDisk, CreationTime: at(400 * day), Tags: map[string]string{"ecssnap:managed": "false", "ecssnap:job": "j-apt-4"}},
		{ID: "s-user-lookalike", DiskID: dataDisk, CreationTime: at(400 * day), Tags: map[string]string{"ecssnap:job": "j-x", "ecssnap:trigger": "apt"}},
		{ID: "s-auto", DiskID: dataDisk, CreationTime: at(400 * day), Type: "auto"},
	}
	w.env = ecsemutest.Start(t, ecsemutest.WithScenario(sc), ecsemutest.WithClock(w.clock))
	w.cl = staticClient(t, w.env)
	w.oldGroup, w.oldMembers = createGroup(t, w.cl, w.env, "j-grp-old", "apt", true)
	w.clock.Advance(20 * day)
	// Members left untagged, as when the engine could not tag them.
	w.newGroup, w.newMembers = createGroup(t, w.cl, w.env, "j-grp-new", "apt", false)
	w.clock.Advance(time.Hour)
	w.keptIDs = append([]string{"s-apt-1", "s-apt-2", "s-apt-inuse", "s-man-10", "s-important",
		"s-user-plain", "s-user-false", "s-user-lookalike", "s-auto"}, w.newMembers...)
	w.goneIDs = append([]string{"s-apt-3", "s-apt-4", "s-apt-4b", "s-man-40"}, w.oldMembers...)
	w.env.Emu.ResetCalls()
	return w
}

func TestPrune(t *testing.T) {
	w := newPruneWorld(t)
	rep, err := retention.Prune(context.Background(), w.cl, w.env.InstanceID, pruneConfig, retention.Options{Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if gone := missing(w.env.Emu, w.keptIDs...); len(gone) != 0 {
		t.Errorf("deleted %v, which must stay", gone)
	}
	if gone := missing(w.env.Emu, w.goneIDs...); !sameSet(gone, w.goneIDs) {
		t.Errorf("of %v, only %v were deleted", w.goneIDs, gone)
	}
	wantDeleted := []string{"s-man-40", w.oldGroup, "s-apt-4", "s-apt-4b", "s-apt-3"}
	if got := deletedIDs(rep); !slices.Equal(got, wantDeleted) {
		t.Errorf("report deleted %v, want %v (oldest job first)", got, wantDeleted)
	}
	// The old group went in one call; no member was deleted on its own.
	groupCalls := calls(w.env.Emu, "DeleteSnapshotGroup")
	if len(groupCalls) != 1 || groupCalls[0].Params["SnapshotGroupId"] != w.oldGroup {
		t.Errorf("DeleteSnapshotGroup calls %+v, want one for %s", groupCalls, w.oldGroup)
	}
	if gs := w.env.Emu.State().Groups; len(gs) != 1 || gs[0].ID != w.newGroup {
		t.Errorf("groups left %+v, want only %s", gs, w.newGroup)
	}
	for _, c := range calls(w.env.Emu, "DeleteSnapshot") {
		id := c.Params["SnapshotId"]
		if slices.Contains(w.oldMembers, id) || slices.Contains(w.newMembers, id) {
			t.Errorf("group member %s deleted on its own", id)
		}
		if c.Params["Force"] == "true" {
			t.Errorf("DeleteSnapshot %s was forced", id)
		}
	}
	// The snapshot a disk was made from is reported and left.
	if len(rep.Failed) != 1 || rep.Failed[0].ID != "s-apt-inuse" || !rep.Failed[0].InUse() {
		t.Errorf("failures %+v, want s-apt-inuse in use", rep.Failed)
	}
	if err := rep.Err(); err != nil {
		t.Errorf("Report.Err() = %v, want nil: a snapshot in use is not an error", err)
	}

	// A second run finds nothing new to delete and tries the one in use again.
	w.env.Emu.ResetCalls()
	rep, err = retention.Prune(context.Background(), w.cl, w.env.InstanceID, pruneConfig, retention.Options{Now: w.clock.Now})
	if err != nil || len(rep.Deleted) != 0 || len(rep.Failed) != 1 {
		t.Errorf("second run: %+v, %v; want only the snapshot in use, failed again", rep, err)
	}
}

func TestPruneDryRun(t *testing.T) {
	w := newPruneWorld(t)
	before := len(w.env.Emu.Snapshots())
	rep, err := retention.Prune(context.Background(), w.cl, w.env.InstanceID, pruneConfig,
		retention.Options{DryRun: true, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"DeleteSnapshot", "DeleteSnapshotGroup"} {
		if n := len(calls(w.env.Emu, action)); n != 0 {
			t.Errorf("dry run made %d %s calls", n, action)
		}
	}
	if after := len(w.env.Emu.Snapshots()); after != before || len(w.env.Emu.State().Groups) != 2 {
		t.Errorf("dry run changed the cloud: %d snapshots before, %d after", before, after)
	}
	// What it would do: everything a real run tries, the one in use included.
	want := []string{"s-man-40", w.oldGroup, "s-apt-4", "s-apt-4b", "s-apt-3", "s-apt-inuse"}
	got := deletedIDs(rep)
	if !rep.DryRun || !sameSet(got, want) {
		t.Errorf("dry run report %v (dry %v), want %v", got, rep.DryRun, want)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestMakeRoomEvictsOldestNonImportantJob(t *testing.T) {
	const quota = 6
	clock := ecsemu.NewVirtualClock(t0)
	end := t0.Add(19 * day)
	at := func(age time.Duration) time.Time { return end.Add(-age) }
	sc := ecsemu.DefaultScenario()
	sc.Quota.ManualSnapshotsPerDisk = quota
	sc.Snapshots = []ecsemu.Snapshot{
		{ID: "s-important", DiskID: dataDisk, CreationTime: at(50 * day), Tags: managed("j-imp", "apt", "ecssnap:important", "true")},
		{ID: "s-user-1", DiskID: dataDisk, CreationTime: at(60 * day)},
		{ID: "s-user-2", DiskID: dataDisk, CreationTime: at(45 * day)},
		{ID: "s-old", DiskID: dataDisk, CreationTime: at(30 * day), Tags: managed("j-old", "apt")},
		{ID: "s-new", DiskID: dataDisk, CreationTime: at(1 * day), Tags: managed("j-new", "apt")},
		{ID: "s-auto", DiskID: dataDisk, CreationTime: at(90 * day), Type: "auto"},
	}
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc), ecsemutest.WithClock(clock))
	cl := staticClient(t, env)
	ctx := context.Background()
	// The group's data-disk member fills the quota; it is 19 days old.
	grp, members := createGroup(t, cl, env, "j-grp", "apt", true)
	clock.Advance(19 * day)

	create := func(token string) error {
		_, err := cl.CreateSnapshot(ctx, cloud.CreateSnapshotInput{DiskID: dataDisk, Name: "ecssnap-next",
			Description: "ecssnap: next", Tags: asTags(managed("j-"+token, "apt")), ClientToken: token})
		return err
	}
	if err := create("tok-full"); cloud.KindOf(err) != cloud.KindQuota {
		t.Fatalf("create on a full disk: %v, want QuotaExceed (the test needs a full disk)", err)
	}
	opts := retention.Options{Now: clock.Now}
	disks := []string{dataDisk, sysDisk}

	// A dry run says what it would evict and deletes nothing.
	env.Emu.ResetCalls()
	rep, err := retention.MakeRoom(ctx, cl, env.InstanceID, disks, quota, retention.DefaultConfig(), retention.Options{DryRun: true, Now: clock.Now})
	if err != nil || !slices.Equal(deletedIDs(rep), []string{"s-old"}) {
		t.Fatalf("dry run: %v, %v; want s-old", deletedIDs(rep), err)
	}
	if n := len(calls(env.Emu, "DeleteSnapshot")); n != 0 {
		t.Fatalf("dry run made %d DeleteSnapshot calls", n)
	}

	rep, err = retention.MakeRoom(ctx, cl, env.InstanceID, disks, quota, retention.DefaultConfig(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := deletedIDs(rep); !slices.Equal(got, []string{"s-old"}) {
		t.Errorf("evicted %v, want the oldest non-important job, s-old", got)
	}
	if err := create("tok-after-1"); err != nil {
		t.Fatalf("create after MakeRoom: %v", err)
	}

	// Full again: the next oldest is the group, which goes whole, in one call.
	env.Emu.ResetCalls()
	rep, err = retention.MakeRoom(ctx, cl, env.InstanceID, disks, quota, retention.DefaultConfig(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := deletedIDs(rep); !slices.Equal(got, []string{grp}) {
		t.Errorf("evicted %v, want the group %s", got, grp)
	}
	if n, m := len(calls(env.Emu, "DeleteSnapshotGroup")), len(calls(env.Emu, "DeleteSnapshot")); n != 1 || m != 0 {
		t.Errorf("%d DeleteSnapshotGroup and %d DeleteSnapshot calls, want 1 and 0", n, m)
	}
	if still := missing(env.Emu, members...); len(still) != len(members) {
		t.Errorf("group members left: want none of %v", members)
	}
	if err := create("tok-after-2"); err != nil {
		t.Fatalf("create after the second MakeRoom: %v", err)
	}
	if gone := missing(env.Emu, "s-important", "s-user-1", "s-user-2", "s-new", "s-auto"); len(gone) != 0 {
		t.Errorf("deleted %v, which must stay", gone)
	}

	// A disk with room is left alone.
	env.Emu.ResetCalls()
	rep, err = retention.MakeRoom(ctx, cl, env.InstanceID, []string{sysDisk}, quota, retention.DefaultConfig(), opts)
	if err != nil || len(rep.Deleted)+len(rep.Failed) != 0 || len(calls(env.Emu, "DescribeSnapshotGroups")) != 0 {
		t.Errorf("disk with room: %+v, %v; want nothing done and nothing more listed", rep, err)
	}
}

func TestMakeRoomQuotaFull(t *testing.T) {
	for _, tt := range []struct {
		name               string
		important          bool
		managed, unmanaged int
		msg                string
	}{
		{name: "only unmanaged", unmanaged: 4, msg: "disk " + dataDisk + " holds 4 manual snapshots, none of them managed by ecssnap: delete some in the ECS console"},
		{name: "unmanaged and important", important: true, managed: 1, unmanaged: 3, msg: "3 not managed by ecssnap and 1 that ecssnap must keep"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sc := ecsemu.DefaultScenario()
			sc.Quota.ManualSnapshotsPerDisk = 4
			for i := range tt.unmanaged {
				sc.Snapshots = append(sc.Snapshots, ecsemu.Snapshot{ID: "s-user-" + string(rune('a'+i)), DiskID: dataDisk, Age: ecsemu.Duration(time.Duration(i+1) * day)})
			}
			if tt.important {
				sc.Snapshots = append(sc.Snapshots, ecsemu.Snapshot{ID: "s-imp", DiskID: dataDisk, Age: ecsemu.Duration(90 * day),
					Tags: managed("j-imp", "apt", "ecssnap:important", "true")})
			}
			// Auto snapshots do not count toward the manual quota.
			sc.Snapshots = append(sc.Snapshots, ecsemu.Snapshot{ID: "s-auto", DiskID: dataDisk, Type: "auto", Age: ecsemu.Duration(day)})
			env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
			cl := staticClient(t, env)
			rep, err := retention.MakeRoom(context.Background(), cl, env.InstanceID, []string{dataDisk}, 4, retention.DefaultConfig(), retention.Options{})
			var qf *retention.QuotaFullError
			if !errors.As(err, &qf) {
				t.Fatalf("err = %v, want *QuotaFullError", err)
			}
			if qf.DiskID != dataDisk || qf.Managed != tt.managed || qf.Unmanaged != tt.unmanaged || qf.Quota != 4 {
				t.Errorf("got %+v, want %d managed and %d unmanaged", qf, tt.managed, tt.unmanaged)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.msg) || strings.Contains(msg, "\n") {
				t.Errorf("message %q, want one line containing %q", msg, tt.msg)
			}
			if len(rep.Deleted) != 0 || len(calls(env.Emu, "DeleteSnapshot")) != 0 {
				t.Errorf("deleted %v", rep.Deleted)
			}
		})
	}
}

func TestMakeRoomSkipsSnapshotInUse(t *testing.T) {
	sc := ecsemu.DefaultScenario()
	sc.Quota.ManualSnapshotsPerDisk = 3
	sc.Snapshots = []ecsemu.Snapshot{
		{ID: "s-user", DiskID: dataDisk, Age: ecsemu.Duration(90 * day)},
		{ID: "s-inuse", DiskID: dataDisk, Age: ecsemu.Duration(20 * day), Tags: managed("j-a", "apt"), CreatedDisk: true},
		{ID: "s-b", DiskID: dataDisk, Age: ecsemu.Duration(10 * day), Tags: managed("j-b", "apt")},
	}
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	cl := staticClient(t, env)
	rep, err := retention.MakeRoom(context.Background(), cl, env.InstanceID, []string{dataDisk}, 3, retention.DefaultConfig(), retention.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed) != 1 || rep.Failed[0].ID != "s-inuse" || !rep.Failed[0].InUse() {
		t.Errorf("failures %+v, want s-inuse reported in use", rep.Failed)
	}
	if !slices.Equal(deletedIDs(rep), []string{"s-b"}) {
		t.Errorf("deleted %v, want s-b once s-inuse could not go", deletedIDs(rep))
	}
	if gone := missing(env.Emu, "s-user", "s-inuse"); len(gone) != 0 {
		t.Errorf("deleted %v", gone)
	}
}
