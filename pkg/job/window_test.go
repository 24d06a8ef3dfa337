package job_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/freeze"
	"github.com/ecssnap/ecssnap/pkg/freeze/freezetest"
	"github.com/ecssnap/ecssnap/pkg/hooks"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/topology"
	"github.com/ecssnap/ecssnap/pkg/topology/topologytest"

	"github.com/ecssnap/ecssnap/pkg/cloud"
)

// recordingHooks is a fake hook runner that logs phases in a shared journal.
type recordingHooks struct {
	journal *journal
	fail    hooks.Phase
	scripts int
}

func (h *recordingHooks) Run(_ context.Context, phase hooks.Phase, _ hooks.Env) hooks.Report {
	h.journal.add("hook:" + string(phase))
	rep := hooks.Report{Phase: phase}
	for i := 0; i < h.scripts; i++ {
		res := hooks.Result{Name: "10-db"}
		if phase == h.fail {
			res.ExitCode = 1
		}
		rep.Results = append(rep.Results, res)
	}
	return rep
}

type journal struct {
	mu    sync.Mutex
	steps []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	j.steps = append(j.steps, s)
	j.mu.Unlock()
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.steps)
}

// lvmEngine is an engine on the "lvm" topology fixture, whose cloud disks
// the emulator holds, with a fake freezer and recording hooks.
func lvmEngine(t *testing.T, fake *freezetest.Fake, h *recordingHooks) (*job.Engine, *ecsemutest.Env, *journal) {
	t.Helper()
	sc := fixtureScenarioFor(t, "lvm")
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	eng, _ := newEngine(t, env, cloud.RetryPolicy{})
	root := topologytest.Extract(t, "lvm")
	eng.Local = job.Local{Discover: topology.New(root).Discover}
	j := &journal{}
	if fake != nil {
		fake.OnFreeze = func() { j.add("frozen") }
		fake.OnThaw = func() {
			j.add("thawed")
			j.add("creates-committed-before-thaw:" + strings.Repeat("x", countCommitted(env)))
		}
		eng.Freezing = job.Freezing{Freezer: fake}
	}
	if h != nil {
		h.journal = j
		eng.Hooks = h
	}
	eng.Emit = func(ev job.Event) {
		if fake != nil && len(fake.Frozen()) > 0 {
			j.add("EVENT-WHILE-FROZEN:" + ev.Type)
		}
	}
	return eng, env, j
}

func countCommitted(env *ecsemutest.Env) int {
	n := 0
	for _, c := range env.Emu.Calls() {
		if strings.HasPrefix(c.Action, "Create") && c.Committed {
			n++
		}
	}
	return n
}

// fixtureScenarioFor is the default emulator instance holding a topology
// fixture's cloud disks (the serials match the fixture's guest serials).
func fixtureScenarioFor(t *testing.T, name string) *ecsemu.Scenario {
	t.Helper()
	sc := fastScenario()
	sc.Disks = []ecsemu.Disk{
		{ID: "d-bp1lvmsys0000000001", Serial: "bp1lvmsys0000000001", Category: "cloud_essd", Type: "system", SizeGiB: 40},
		{ID: "d-bp1lvmpv00000000001", Serial: "bp1lvmpv00000000001", Category: "cloud_essd", Type: "data", SizeGiB: 100},
		{ID: "d-bp1lvmpv00000000002", Serial: "bp1lvmpv00000000002", Category: "cloud_efficiency", Type: "data", SizeGiB: 100},
	}
	if name != "lvm" {
		t.Fatalf("no scenario for fixture %s", name)
	}
	return sc
}

// The LVM volume spans an ESSD and a cloud_efficiency disk, so it cannot be
// grouped: it is frozen across the parallel creates, and every create is
// accepted before the thaw.
func TestFreezeWindow(t *testing.T) {
	fake := &freezetest.Fake{}
	eng, env, j := lvmEngine(t, fake, &recordingHooks{scripts: 1})
	res, err := eng.Run(context.Background(), job.Request{Consistency: job.LevelApp, Wait: true})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Consistency != "app" || res.Desired != "app" || res.Freeze == nil {
		t.Fatalf("consistency %s (desired %s), freeze %+v", res.Consistency, res.Desired, res.Freeze)
	}
	want := []string{"hook:pre-freeze", "frozen", "thawed", "creates-committed-before-thaw:xx", "hook:post-thaw", "hook:post-complete"}
	if got := j.all(); !slices.Equal(got, want) {
		t.Errorf("steps = %v\nwant    %v", got, want)
	}
	if ops := fake.Ops(); !slices.Equal(ops, []string{"prepare", "freeze", "thaw", "close"}) {
		t.Errorf("freezer calls = %v", ops)
	}
	// Children before parents, / last, and nothing frozen afterwards.
	if f := res.Freeze.Frozen; len(f) == 0 || f[len(f)-1] != "/" || len(fake.Frozen()) != 0 {
		t.Errorf("frozen %v, still frozen %v", f, fake.Frozen())
	}
	for _, c := range env.Emu.Calls() {
		if strings.HasPrefix(c.Action, "Create") && !strings.Contains(paramsString(c.Params), "ecssnap:consistency=app") {
			t.Errorf("%s not tagged consistency=app: %v", c.Action, c.Params)
		}
	}
}

func paramsString(p map[string]string) string {
	var b strings.Builder
	for i := 1; i <= 20; i++ {
		k, ok := p["Tag."+strconv.Itoa(i)+".Key"]
		if !ok {
			break
		}
		b.WriteString(k + "=" + p["Tag."+strconv.Itoa(i)+".Value"] + " ")
	}
	return b.String()
}

func TestDegradedWithoutHooks(t *testing.T) {
	eng, _, _ := lvmEngine(t, &freezetest.Fake{}, nil)
	res, err := eng.Run(context.Background(), job.Request{Consistency: job.LevelApp})
	var deg *job.DegradedError
	if !errors.As(err, &deg) || res.Consistency != "fs" || res.Outcome != "degraded" || !strings.Contains(err.Error(), "no pre-freeze hook scripts") {
		t.Fatalf("err = %v, consistency %s, outcome %s", err, res.Consistency, res.Outcome)
	}
}

func TestFailedPreFreezeHookDegradesToFS(t *testing.T) {
	eng, _, j := lvmEngine(t, &freezetest.Fake{}, &recordingHooks{scripts: 1, fail: hooks.PreFreeze})
	res, err := eng.Run(context.Background(), job.Request{Consistency: job.LevelApp, Require: job.LevelFS})
	var deg *job.DegradedError
	if !errors.As(err, &deg) || res.Consistency != "fs" {
		t.Fatalf("err = %v, consistency %s", err, res.Consistency)
	}
	if !slices.Contains(j.all(), "hook:post-thaw") {
		t.Errorf("post-thaw must run once pre-freeze has: %v", j.all())
	}
}

func TestRequireAppFailsWhenHookFails(t *testing.T) {
	eng, _, j := lvmEngine(t, &freezetest.Fake{}, &recordingHooks{scripts: 1, fail: hooks.PreFreeze})
	_, err := eng.Run(context.Background(), job.Request{Require: job.LevelApp})
	var below *job.BelowRequiredError
	if !errors.As(err, &below) || !below.Created {
		t.Fatalf("err = %v", err)
	}
	if !slices.Contains(j.all(), "hook:on-failure") {
		t.Errorf("on-failure hooks did not run: %v", j.all())
	}
}

// Without a freezer, --require fs fails before anything is created.
func TestRequireFSWithoutFreezer(t *testing.T) {
	eng, env, _ := lvmEngine(t, nil, nil)
	_, err := eng.Run(context.Background(), job.Request{Require: job.LevelFS})
	var below *job.BelowRequiredError
	if !errors.As(err, &below) || below.Created || !strings.Contains(err.Error(), "nothing was created") {
		t.Fatalf("err = %v", err)
	}
	if n := countCommitted(env); n != 0 {
		t.Errorf("%d creates despite the refusal", n)
	}
}

// Default consistency without a freezer is crash, and the multi-disk LVM
// volume that cannot be grouped is refused.
func TestNoFreezerRefusesUngroupableVolume(t *testing.T) {
	eng, _, _ := lvmEngine(t, nil, nil)
	_, err := eng.Run(context.Background(), job.Request{})
	if err == nil || !strings.Contains(err.Error(), "--allow-inconsistent") {
		t.Fatalf("err = %v", err)
	}
	res, err := eng.Run(context.Background(), job.Request{AllowInconsistent: true})
	if err != nil || res.Consistency != "crash" || !res.Plan.Inconsistent {
		t.Fatalf("err = %v, result %+v", err, res)
	}
}

func TestFreezeFailureCreatesNothing(t *testing.T) {
	fake := &freezetest.Fake{FreezeErr: freeze.ErrFreezeFailed}
	eng, env, _ := lvmEngine(t, fake, nil)
	res, err := eng.Run(context.Background(), job.Request{})
	if !errors.Is(err, freeze.ErrFreezeFailed) {
		t.Fatalf("err = %v", err)
	}
	if n := countCommitted(env); n != 0 || len(fake.Frozen()) != 0 {
		t.Errorf("%d creates, still frozen %v", n, fake.Frozen())
	}
	// Nothing was sent: no disk is shown as being created, no level reached.
	for _, s := range res.Snapshots {
		if s.State != job.StateNotCreated || !strings.Contains(s.Error, "not sent") {
			t.Errorf("%s: %+v", s.DiskID, s)
		}
	}
	if res.Consistency != "" || res.FailedIn != job.PhaseFreeze {
		t.Errorf("consistency %q, failed in %q", res.Consistency, res.FailedIn)
	}
}

// A thaw before every create was accepted (the deadline) lowers the level
// to crash, and the snapshots' tags are corrected.
func TestThawedEarlyIsCrash(t *testing.T) {
	fake := &freezetest.Fake{ThawErr: freeze.ErrThawedEarly, ThawReason: "deadline"}
	eng, env, _ := lvmEngine(t, fake, nil)
	res, err := eng.Run(context.Background(), job.Request{})
	var deg *job.DegradedError
	if !errors.As(err, &deg) || res.Consistency != "crash" {
		t.Fatalf("err = %v, consistency %s", err, res.Consistency)
	}
	retagged := false
	for _, c := range env.Emu.Calls() {
		if c.Action == "TagResources" && strings.Contains(paramsString(c.Params), "ecssnap:consistency=crash") {
			retagged = true
		}
	}
	if !retagged {
		t.Error("the consistency tag was not corrected")
	}
}

// Every way the window can end early, with the fake freezer: the level is
// what the window proves for the creates' answers, the tags follow, and
// --require fs turns a crash into a failure with the snapshots kept.
func TestWindowEndsEarly(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fake    *freezetest.Fake
		require job.Level
		want    string // level reached
		early   bool
		reason  string
	}{
		{name: "helper killed", fake: &freezetest.Fake{HelperGone: true}, want: "crash", early: true, reason: job.ThawReasonHelperGone},
		{name: "helper killed, fs required", fake: &freezetest.Fake{HelperGone: true}, require: job.LevelFS, want: "crash", early: true, reason: job.ThawReasonHelperGone},
		{name: "signal before the answers", fake: &freezetest.Fake{ThawErr: freeze.ErrThawedEarly, ThawReason: "signal:terminated"}, want: "crash", early: true, reason: "signal:terminated"},
		// The deadline struck after every create was answered: the
		// snapshots were taken while frozen.
		{name: "deadline after the answers", fake: &freezetest.Fake{ThawErr: freeze.ErrThawedEarly, ThawReason: "deadline", ThawedAt: time.Hour}, want: "fs", early: true, reason: "deadline"},
		{name: "thawed by someone else", fake: &freezetest.Fake{ThawedByOther: true}, want: "crash", reason: "request", early: true},
		{name: "thaw on request", fake: &freezetest.Fake{}, want: "fs", reason: "request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng, env, _ := lvmEngine(t, tc.fake, nil)
			res, err := eng.Run(context.Background(), job.Request{Consistency: job.LevelFS, Require: tc.require})
			var (
				deg   *job.DegradedError
				below *job.BelowRequiredError
			)
			switch {
			case tc.want == "fs":
				if err != nil {
					t.Errorf("err = %v", err)
				}
			case tc.require == job.LevelFS:
				if !errors.As(err, &below) || !below.Created || res.Outcome != "failed" && res.Outcome != "partial" {
					t.Errorf("err = %v, outcome %s", err, res.Outcome)
				}
			default:
				if !errors.As(err, &deg) || res.Outcome != "degraded" {
					t.Errorf("err = %v, outcome %s", err, res.Outcome)
				}
			}
			if res.Consistency != tc.want || res.Freeze == nil || res.Freeze.ThawedEarly != tc.early || res.Freeze.ThawReason != tc.reason {
				t.Errorf("consistency %s, freeze %+v", res.Consistency, res.Freeze)
			}
			for _, s := range res.Snapshots {
				if s.Consistency != tc.want || s.SnapshotID == "" {
					t.Errorf("%s: %+v", s.DiskID, s)
					continue
				}
				if got := snapshotTags(t, env, s.SnapshotID)[job.TagConsistency]; got != tc.want {
					t.Errorf("%s tagged %s, want %s", s.SnapshotID, got, tc.want)
				}
			}
		})
	}
}

// snapshotTags reads a snapshot's tags as the cloud has them now.
func snapshotTags(t *testing.T, env *ecsemutest.Env, id string) map[string]string {
	t.Helper()
	c := emuClient(t, env)
	snaps, err := c.DescribeSnapshots(context.Background(), []string{id})
	if err != nil || len(snaps) != 1 {
		t.Fatalf("describe %s: %v", id, err)
	}
	return snaps[0].Tags
}
