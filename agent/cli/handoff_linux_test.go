package cli_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/store"
)

// An in-process `now --no-wait` answers once the group is created, before
// its members are known, and ends, with or without --json, as the daemon
// answers; the process it starts finishes the job. `ecssnap show --wait`
// returns once it has: every member snapshot named and tagged, the job
// done.
func TestInProcessNoWaitHandsOffTheBookkeeping(t *testing.T) {
	for _, output := range []string{"plain", "json"} {
		t.Run(output, func(t *testing.T) {
			env := ecsemutest.Start(t, ecsemutest.WithScenario(quickScenario()))
			run := inProcessCLI(t, env)
			args := []string{"now", "--no-wait", "--consistency", "crash", "--disks", "all"}
			if output == "json" {
				var answer job.Result
				if err := json.Unmarshal(run(append(args, "--json")...), &answer); err != nil {
					t.Fatal(err)
				}
				if !answer.HandedOff || answer.GroupID == "" || answer.Outcome != "created" {
					t.Fatalf("--json answer: handed_off %v, group %q, outcome %q; want the group, created, handed off",
						answer.HandedOff, answer.GroupID, answer.Outcome)
				}
			} else {
				run(args...)
			}
			var views []localapi.JobView
			if err := json.Unmarshal(run("list", "--json"), &views); err != nil {
				t.Fatal(err)
			}
			if len(views) != 1 || views[0].Result == nil || views[0].Result.GroupID == "" {
				t.Fatalf("list: %d jobs; want the one just made, with a group", len(views))
			}
			var v localapi.JobView
			if err := json.Unmarshal(run("show", "--wait", "--json", views[0].ID), &v); err != nil {
				t.Fatal(err)
			}
			assertFinished(t, env, &v)
		})
	}
}

// A handed-off job whose finishing process died before it took the store
// is finished by `ecssnap show --wait`, as by any start of ecssnap.
func TestShowWaitFinishesAJobNobodyFinishes(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(quickScenario()))
	t.Setenv(finisherDiesEnv, "1")
	run := inProcessCLI(t, env)
	var answer job.Result
	if err := json.Unmarshal(run("now", "--no-wait", "--json", "--consistency", "crash", "--disks", "all"), &answer); err != nil {
		t.Fatal(err)
	}
	var before localapi.JobView
	if err := json.Unmarshal(run("show", "--json", answer.JobID), &before); err != nil {
		t.Fatal(err)
	}
	if before.State == "done" {
		t.Fatalf("job %s is done though its finisher died", answer.JobID)
	}
	var v localapi.JobView
	if err := json.Unmarshal(run("show", "--wait", "--timeout", "20s", "--json", answer.JobID), &v); err != nil {
		t.Fatal(err)
	}
	assertFinished(t, env, &v)
}

// assertFinished checks a handed-off job's finished record: done, every
// member named, and the members tagged in the cloud.
func assertFinished(t *testing.T, env *ecsemutest.Env, v *localapi.JobView) {
	t.Helper()
	if v.State != "done" || v.Result == nil {
		t.Fatalf("show --wait: state %s; want done", v.State)
	}
	if groupMembers(v.Result.Snapshots) == 0 {
		t.Fatal("show --wait: no member of the group named")
	}
	for _, s := range v.Result.Snapshots {
		if s.SnapshotID == "" {
			t.Fatalf("show --wait: the snapshot of disk %s has no ID", s.DiskID)
		}
	}
	if v.Result.HandedOff || v.Result.Outcome != "created" {
		t.Errorf("finished record: handed_off %v, outcome %q", v.Result.HandedOff, v.Result.Outcome)
	}
	// The members carry the job's tags (listing and retention find them so;
	// a snapshot taken alone had them at its create).
	tagged := map[string]bool{}
	for _, c := range env.Emu.Calls() {
		if c.Action == "TagResources" && c.Committed {
			for k, id := range c.Params {
				if strings.HasPrefix(k, "ResourceId.") {
					tagged[id] = true
				}
			}
		}
	}
	for _, s := range v.Result.Snapshots {
		if s.Method == "group" && !tagged[s.SnapshotID] {
			t.Errorf("member %s of disk %s was never tagged", s.SnapshotID, s.DiskID)
		}
	}
}

// `show --wait` refuses what it cannot do in one line: a --timeout
// without --wait, a job that does not exist, and a job that does not end
// in time (exit 75: here its finisher died and the store is held).
func TestShowWaitRefusals(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(quickScenario()))
	t.Setenv(finisherDiesEnv, "1")
	vars, stateDir := inProcessVars(t, env)
	check := func(wantCode int, want string, args ...string) {
		t.Helper()
		code, _, stderr := runWith(t, vars, args...)
		if code != wantCode || !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("ecssnap %v: exit %d, %q; want exit %d and one line with %q", args, code, stderr, wantCode, want)
		}
	}
	check(64, "--timeout goes with --wait", "show", "--timeout", "5s", "j-none")
	check(64, "want a duration", "show", "--wait", "--timeout", "banana", "j-none")
	code, out, stderr := runWith(t, vars, "now", "--no-wait", "--json", "--consistency", "crash", "--disks", "all")
	var answer job.Result
	if err := json.Unmarshal([]byte(out), &answer); code != 0 || err != nil {
		t.Fatalf("now: exit %d, %v: %s", code, err, stderr)
	}
	check(1, "no job j-none", "show", "--wait", "j-none")
	st, err := store.Open(stateDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	check(75, "job "+answer.JobID+" has not ended after 300ms (state created)", "show", "--wait", "--timeout", "300ms", answer.JobID)
}

// groupMembers counts the group's snapshots whose IDs are known.
func groupMembers(snaps []job.SnapshotResult) int {
	n := 0
	for _, s := range snaps {
		if s.Method == "group" && s.SnapshotID != "" {
			n++
		}
	}
	return n
}

// inProcessCLI runs the test binary as ecssnap against env with no daemon
// (so every job runs in process) and a state directory of its own; a
// failing command fails the test.
func inProcessCLI(t *testing.T, env *ecsemutest.Env) func(args ...string) []byte {
	vars, _ := inProcessVars(t, env)
	return func(args ...string) []byte {
		t.Helper()
		code, stdout, stderr := runWith(t, vars, args...)
		if code != 0 {
			t.Fatalf("ecssnap %v: exit %d: %s", args, code, stderr)
		}
		return []byte(stdout)
	}
}

// inProcessVars is the environment of inProcessCLI, and its state
// directory.
func inProcessVars(t *testing.T, env *ecsemutest.Env) ([]string, string) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	return []string{
		"ECSSNAP_CONFIG=/dev/null",
		"ECSSNAP_METADATA_ENDPOINT=" + env.IMDSURL, "ECSSNAP_API_ENDPOINT=" + env.APIURL,
		"ECSSNAP_SOCKET=" + filepath.Join(dir, "ecssnap.sock"), // no daemon: in process
		"ECSSNAP_STATE_DIR=" + state,
		"ECSSNAP_FREEZE_JOURNAL=" + filepath.Join(dir, "freeze.json"),
		"ALIBABA_CLOUD_ACCESS_KEY_ID=" + env.AccessKeyID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + env.AccessKeySecret,
	}, state
}

// runWith runs the test binary as ecssnap with vars added to the
// environment.
func runWith(t *testing.T, vars []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(append(os.Environ(), runCLIEnv+"=1"), vars...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// A daemon started while an ecssnap command holds the job store (a job run
// while no daemon did, or the process finishing its bookkeeping) waits for
// it instead of failing to start.
func TestDaemonWaitsForTheStore(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(quickScenario()))
	vars, stateDir := inProcessVars(t, env)
	st, err := store.Open(stateDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(time.Second)
		st.Close()
		close(released)
	}()
	stop := startDaemonIn(t, vars)
	defer stop()
	select {
	case <-released:
	default:
		t.Fatal("the daemon answered while the store was held")
	}
}

// Past the one-call count (the instance's disks hold as many manual
// snapshots in all as one disk may), the daemon's view counts per disk when
// it is renewed, not before every job: a job from the warm view still makes
// no call before its creates.
func TestWarmViewCountsPerDiskPastTheInstanceTotal(t *testing.T) {
	sc := quickScenario()
	for i := range 140 {
		for k, d := range []string{ecsemu.DefaultSystemDiskID, ecsemu.DefaultDataDiskID} {
			sc.Snapshots = append(sc.Snapshots, ecsemu.Snapshot{ID: fmt.Sprintf("s-old%d%03d", k, i), DiskID: d, Age: ecsemu.Duration(time.Hour)})
		}
	}
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	vars, _ := inProcessVars(t, env)
	stop := startDaemonIn(t, vars)
	defer stop()
	deadline := time.Now().Add(10 * time.Second)
	for countCalls(env, "DescribeSnapshots") == 0 { // the view's first count
		if time.Now().After(deadline) {
			t.Fatalf("the daemon's view counted nothing: calls %v", actions(env))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // and the disks' counts after it
	env.Emu.ResetCalls()
	code, out, stderr := runWith(t, vars, "now", "--no-wait", "--json", "--consistency", "crash", "--disks", "all")
	var res job.Result
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || !res.WarmView {
		t.Fatalf("now: exit %d, %v, warm view %v: %s", code, err, res.WarmView, stderr)
	}
	if got := actions(env); len(got) == 0 || !strings.HasPrefix(got[0], "Create") {
		t.Errorf("calls of the job %v; want its creates first", got)
	}
}

func actions(env *ecsemutest.Env) []string {
	var out []string
	for _, c := range env.Emu.Calls() {
		out = append(out, c.Action)
	}
	return out
}

func countCalls(env *ecsemutest.Env, action string) int {
	n := 0
	for _, a := range actions(env) {
		if a == action {
			n++
		}
	}
	return n
}

// startDaemonIn is startDaemon with the environment of inProcessVars.
func startDaemonIn(t *testing.T, vars []string) (stop func()) {
	m := map[string]string{}
	for _, v := range vars {
		k, val, _ := strings.Cut(v, "=")
		m[k] = val
	}
	return startDaemon(t, m)
}

// A job run in process that dies before its creates leaves no record: no
// later start of ecssnap runs it again under its caller's reason, long
// after the caller (a package manager's transaction) went on without it.
func TestInProcessJobKilledBeforeItsCreatesIsNotRunLater(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(quickScenario()), ecsemutest.WithFaults(ecsemu.Faults{Latency: 3 * time.Second}))
	vars, _ := inProcessVars(t, env)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "now", "--no-wait", "--json", "--consistency", "crash", "--reason", "before apt-get upgrade")
	cmd.Env = append(append(os.Environ(), runCLIEnv+"=1"), vars...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // DescribeDisks is on its way
	cmd.Process.Kill()
	cmd.Wait()
	env.Emu.SetFaults(ecsemu.Faults{})
	code, out, stderr := runWith(t, vars, "list", "--json")
	var views []localapi.JobView
	if err := json.Unmarshal([]byte(out), &views); code != 0 || err != nil {
		t.Fatalf("list: exit %d, %v: %s", code, err, stderr)
	}
	if len(views) != 0 {
		t.Fatalf("list: %d jobs (state %s); want none: the killed job created nothing", len(views), views[0].State)
	}
	for _, c := range env.Emu.Calls() {
		if strings.HasPrefix(c.Action, "Create") {
			t.Errorf("a %s was made", c.Action)
		}
	}
}
