package retention_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/retention"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// snap is an accomplished managed snapshot of job j with trigger tr, age
// old; mods adjust it.
func snap(id, j, tr string, age time.Duration, mods ...func(*cloud.Snapshot)) cloud.Snapshot {
	s := cloud.Snapshot{ID: id, DiskID: "d-data", Status: cloud.StatusAccomplished, Created: now.Add(-age),
		Tags: map[string]string{"ecssnap:managed": "true", "ecssnap:job": j, "ecssnap:trigger": tr}}
	for _, m := range mods {
		m(&s)
	}
	return s
}

func group(id, j, tr string, age time.Duration, members ...string) cloud.SnapshotGroup {
	g := cloud.SnapshotGroup{ID: id, Status: cloud.StatusAccomplished, Created: now.Add(-age),
		Tags: map[string]string{"ecssnap:managed": "true", "ecssnap:job": j, "ecssnap:trigger": tr}}
	for i, m := range members {
		g.Members = append(g.Members, cloud.GroupMember{SnapshotID: m, DiskID: fmt.Sprintf("d-%d", i), Progress: 100, Available: true})
	}
	return g
}

func status(st string) func(*cloud.Snapshot) { return func(s *cloud.Snapshot) { s.Status = st } }

func tag(k, v string) func(*cloud.Snapshot) { return func(s *cloud.Snapshot) { s.Tags[k] = v } }

func untag(k string) func(*cloud.Snapshot) { return func(s *cloud.Snapshot) { delete(s.Tags, k) } }

func disk(d string) func(*cloud.Snapshot) { return func(s *cloud.Snapshot) { s.DiskID = d } }

// jobsOf makes n single-snapshot jobs of a trigger, one a day, the newest
// (prefix-1) a day old.
func jobsOf(prefix, tr string, n int, mods ...func(*cloud.Snapshot)) []cloud.Snapshot {
	var out []cloud.Snapshot
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		out = append(out, snap("s-"+id, "j-"+id, tr, time.Duration(i)*day, mods...))
	}
	return out
}

func keep(n int, age time.Duration) retention.Config {
	return retention.Config{Default: retention.Policy{KeepLast: n, MaxAge: age}}
}

func cat[T any](parts ...[]T) []T {
	var out []T
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func ids(ds []retention.Deletion) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.Kind+" "+d.ID)
	}
	return out
}

func TestPlan(t *testing.T) {
	important := tag("ecssnap:important", "true")
	tests := []struct {
		name   string
		snaps  []cloud.Snapshot
		groups []cloud.SnapshotGroup
		cfg    retention.Config
		want   []string
	}{
		{name: "nothing", cfg: keep(1, day), want: []string{}},
		{
			name:  "keep-last counts per trigger, oldest deleted first",
			snaps: cat(jobsOf("apt", "apt", 5), jobsOf("man", "manual", 3)),
			cfg:   keep(2, 0),
			want:  []string{"snapshot s-apt-5", "snapshot s-apt-4", "snapshot s-apt-3", "snapshot s-man-3"},
		},
		{
			name:  "max age",
			snaps: cat(jobsOf("apt", "apt", 5), jobsOf("man", "manual", 2)),
			cfg:   keep(0, 3*day+time.Hour),
			want:  []string{"snapshot s-apt-5", "snapshot s-apt-4"},
		},
		{
			name:  "no limits keep everything",
			snaps: jobsOf("apt", "apt", 40),
			cfg:   retention.Config{},
			want:  []string{},
		},
		{
			name:  "per-trigger policy overrides the default",
			snaps: cat(jobsOf("apt", "apt", 4), jobsOf("man", "manual", 4)),
			cfg: retention.Config{Default: retention.Policy{KeepLast: 3},
				Triggers: map[string]retention.Policy{"apt": {KeepLast: 1}}},
			want: []string{"snapshot s-apt-4", "snapshot s-man-4", "snapshot s-apt-3", "snapshot s-apt-2"},
		},
		{
			name:  "either limit deletes",
			snaps: jobsOf("apt", "apt", 6),
			cfg:   keep(4, 2*day+time.Hour),
			want:  []string{"snapshot s-apt-6", "snapshot s-apt-5", "snapshot s-apt-4", "snapshot s-apt-3"},
		},
		{
			name:  "important jobs are protected by the default and counted apart",
			snaps: cat(jobsOf("imp", "apt", 3, important), jobsOf("apt", "apt", 3)),
			cfg:   keep(2, 0), // Important: no limit
			want:  []string{"snapshot s-apt-3"},
		},
		{
			name:  "important jobs follow the important policy only",
			snaps: cat(jobsOf("imp", "apt", 4, important), jobsOf("impm", "manual", 1, important)),
			cfg:   retention.Config{Default: retention.Policy{KeepLast: 100}, Important: retention.Policy{KeepLast: 2}},
			want:  []string{"snapshot s-imp-4", "snapshot s-imp-3", "snapshot s-imp-2"},
		},
		{
			name: "important on one snapshot marks the whole job",
			snaps: []cloud.Snapshot{
				snap("s-a1", "j-a", "apt", 5*day), snap("s-a2", "j-a", "apt", 5*day, important, disk("d-sys")),
				snap("s-b1", "j-b", "apt", 1*day),
			},
			cfg:  keep(1, 0),
			want: []string{},
		},
		{
			name: "unmanaged snapshots are invisible",
			snaps: []cloud.Snapshot{
				snap("s-none", "j-x", "apt", 90*day, untag("ecssnap:managed")),
				snap("s-false", "j-y", "apt", 90*day, tag("ecssnap:managed", "false")),
				snap("s-caps", "j-z", "apt", 90*day, tag("ecssnap:managed", "True")),
				{ID: "s-bare", DiskID: "d-data", Status: cloud.StatusAccomplished, Created: now.Add(-90 * day)},
				// Same job as a managed snapshot, but not tagged managed itself.
				snap("s-j1-b", "j-1", "apt", 90*day, untag("ecssnap:managed"), disk("d-sys")),
				snap("s-j1-a", "j-1", "apt", 90*day),
			},
			cfg:  keep(0, day),
			want: []string{"snapshot s-j1-a"},
		},
		{
			name: "a group goes whole with its job's other snapshots",
			snaps: []cloud.Snapshot{
				snap("s-m1", "j-g", "apt", 10*day), snap("s-m2", "j-g", "apt", 10*day, disk("d-1")),
				snap("s-solo", "j-g", "apt", 10*day, disk("d-local")),
				snap("s-new", "j-new", "apt", day),
			},
			groups: []cloud.SnapshotGroup{group("ssg-g", "j-g", "apt", 10*day, "s-m1", "s-m2")},
			cfg:    keep(1, 0),
			want:   []string{"group ssg-g", "snapshot s-solo"},
		},
		{
			name:   "a group whose members carry no tags",
			groups: []cloud.SnapshotGroup{group("ssg-old", "j-old", "apt", 10*day, "s-x1", "s-x2"), group("ssg-new", "j-new", "apt", day, "s-y1")},
			cfg:    keep(1, 0),
			want:   []string{"group ssg-old"},
		},
		{
			name: "an unmanaged group and its members are invisible",
			snaps: []cloud.Snapshot{
				snap("s-um1", "", "", 10*day, untag("ecssnap:managed")),
			},
			groups: []cloud.SnapshotGroup{func() cloud.SnapshotGroup {
				g := group("ssg-user", "j-u", "apt", 10*day, "s-um1")
				delete(g.Tags, "ecssnap:managed")
				return g
			}()},
			cfg:  keep(0, day),
			want: []string{},
		},
		{
			name: "progressing jobs are never deleted and do not count",
			snaps: []cloud.Snapshot{
				snap("s-busy", "j-busy", "apt", time.Hour, status(cloud.StatusProgressing)),
				snap("s-good", "j-good", "apt", 2*day),
				snap("s-old", "j-old", "apt", 3*day),
				snap("s-ancient-busy", "j-ab", "apt", 90*day, status(cloud.StatusProgressing)),
				snap("s-half-a", "j-half", "apt", 80*day), snap("s-half-b", "j-half", "apt", 80*day, status(cloud.StatusProgressing), disk("d-2")),
			},
			cfg:  keep(1, 30*day),
			want: []string{"snapshot s-old"},
		},
		{
			name: "a progressing group is kept",
			groups: []cloud.SnapshotGroup{func() cloud.SnapshotGroup {
				g := group("ssg-p", "j-p", "apt", 90*day, "s-p1")
				g.Status = "progressing"
				return g
			}()},
			cfg:  keep(0, day),
			want: []string{},
		},
		{
			name: "failed jobs do not count toward keep-last",
			snaps: []cloud.Snapshot{
				snap("s-f1", "j-f1", "apt", 1*day, status(cloud.StatusFailed)),
				snap("s-f2", "j-f2", "apt", 2*day, status(cloud.StatusFailed)),
				snap("s-ok", "j-ok", "apt", 3*day),
				snap("s-f3", "j-f3", "apt", 4*day, status(cloud.StatusFailed)),
				snap("s-ok2", "j-ok2", "apt", 5*day),
			},
			cfg:  keep(1, 0),
			want: []string{"snapshot s-ok2", "snapshot s-f3"},
		},
		{
			name: "malformed tags",
			snaps: []cloud.Snapshot{
				// No job tag: a job of its own.
				snap("s-nojob-old", "", "apt", 9*day), snap("s-nojob-new", "", "apt", 8*day),
				// Snapshots of one job disagree on the trigger: held.
				snap("s-mix-a", "j-mix", "apt", 50*day), snap("s-mix-b", "j-mix", "dnf", 50*day, disk("d-2")),
				// A group member tagged with another job: both held.
				snap("s-gm", "j-other", "apt", 50*day),
				// No creation time: held.
				{ID: "s-notime", Status: cloud.StatusAccomplished, Tags: map[string]string{"ecssnap:managed": "true", "ecssnap:job": "j-nt"}},
				// A status this code does not know: treated as progressing.
				snap("s-odd", "j-odd", "apt", 50*day, status("queued")),
				// No trigger tag: the default, in a pool of its own.
				snap("s-notrig", "j-nt2", "", 50*day, untag("ecssnap:trigger")),
				// Empty tag values and nil tag maps are not managed.
				{ID: "s-nil", Status: cloud.StatusAccomplished, Created: now.Add(-50 * day)},
				snap("s-empty", "j-e", "apt", 50*day, tag("ecssnap:managed", "")),
			},
			groups: []cloud.SnapshotGroup{group("ssg-conflict", "j-grp", "apt", 50*day, "s-gm")},
			cfg:    keep(0, 8*day+time.Hour),
			want:   []string{"snapshot s-notrig", "snapshot s-nojob-old"},
		},
		{
			name:  "duplicates in the listing are deleted once",
			snaps: cat(jobsOf("apt", "apt", 2), jobsOf("apt", "apt", 2)),
			groups: []cloud.SnapshotGroup{
				group("ssg-d", "j-d", "apt", 9*day, "s-d1"), group("ssg-d", "j-d", "apt", 9*day, "s-d1"),
			},
			cfg:  keep(1, 0),
			want: []string{"group ssg-d", "snapshot s-apt-2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ids(retention.Plan(tt.snaps, tt.groups, tt.cfg, now))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Plan deletes\n  %v\nwant\n  %v", got, tt.want)
			}
			// The order of the listing must not matter.
			r := rand.New(rand.NewPCG(1, 2))
			for range 5 {
				s, g := append([]cloud.Snapshot(nil), tt.snaps...), append([]cloud.SnapshotGroup(nil), tt.groups...)
				r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
				r.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
				if again := ids(retention.Plan(s, g, tt.cfg, now)); !reflect.DeepEqual(again, got) {
					t.Fatalf("shuffled input: %v, want %v", again, got)
				}
			}
		})
	}
}

func TestPlanDeletionFields(t *testing.T) {
	snaps := []cloud.Snapshot{
		snap("s-m1", "j-g", "apt", 10*day), snap("s-solo", "j-g", "apt", 10*day+time.Minute, disk("d-local")),
		snap("s-imp", "j-imp", "manual", 3*day, tag("ecssnap:important", "true")),
		snap("s-imp2", "j-imp2", "manual", 2*day, tag("ecssnap:important", "true")),
		snap("s-nt", "j-nt", "", 40*day, untag("ecssnap:trigger")),
	}
	groups := []cloud.SnapshotGroup{group("ssg-g", "j-g", "apt", 10*day, "s-m1")}
	cfg := retention.Config{Default: retention.Policy{MaxAge: 7 * day}, Important: retention.Policy{KeepLast: 1}}
	got := retention.Plan(snaps, groups, cfg, now)
	want := []retention.Deletion{
		{Kind: "snapshot", ID: "s-nt", Job: "j-nt", Created: now.Add(-40 * day), Reason: "older than 7d, the max age of jobs without a trigger"},
		{Kind: "group", ID: "ssg-g", Job: "j-g", Trigger: "apt", Created: now.Add(-10 * day), Reason: `older than 7d, the max age of trigger "apt"`},
		{Kind: "snapshot", ID: "s-solo", Job: "j-g", Trigger: "apt", Created: now.Add(-10*day - time.Minute), Reason: `older than 7d, the max age of trigger "apt"`},
		{Kind: "snapshot", ID: "s-imp", Job: "j-imp", Trigger: "manual", Created: now.Add(-3 * day), Reason: "1 newer jobs kept, the keep-last of important jobs"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Plan =\n%s\nwant\n%s", dump(got), dump(want))
	}
}

func dump(ds []retention.Deletion) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "  %+v\n", d)
	}
	return b.String()
}
