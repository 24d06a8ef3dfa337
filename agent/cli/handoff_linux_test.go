package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
)

// An in-process `now --no-wait` answers once the group is created, before
// its members are known, and ends; the process it starts finishes the job:
// `ecssnap show` then has every member snapshot, tagged, and the job done.
// A caller that asks for JSON reads the snapshots' IDs from the answer, so
// its job is not handed off: the answer already names every member.
func TestInProcessNoWaitHandsOffTheBookkeeping(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(quickScenario()))
	run := inProcessCLI(t, env)
	// A plain answer is the caller's whole interest: the job is handed off.
	run("now", "--no-wait", "--consistency", "crash", "--disks", "all")
	var views []localapi.JobView
	if err := json.Unmarshal(run("list", "--json"), &views); err != nil {
		t.Fatal(err)
	}
	if len(views) != 1 || views[0].Result == nil {
		t.Fatalf("list: %d jobs; want the one just made", len(views))
	}
	res := *views[0].Result
	if res.GroupID == "" {
		t.Fatalf("job %s made no group", res.JobID)
	}
	// JSON asks for the snapshots' IDs: that answer waits for the members
	// (a fresh emulator, so that no snapshot of the first job is in the way).
	var withJSON job.Result
	runJSON := inProcessCLI(t, ecsemutest.Start(t, ecsemutest.WithScenario(quickScenario())))
	if err := json.Unmarshal(runJSON("now", "--no-wait", "--json", "--consistency", "crash", "--disks", "all"), &withJSON); err != nil {
		t.Fatal(err)
	}
	if withJSON.HandedOff || withJSON.GroupID == "" || groupMembers(withJSON.Snapshots) == 0 {
		t.Fatalf("--json: handed_off %v, group %q, %d members named; want the members in the answer", withJSON.HandedOff, withJSON.GroupID, groupMembers(withJSON.Snapshots))
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var v localapi.JobView
		if err := json.Unmarshal(run("show", "--json", res.JobID), &v); err != nil {
			t.Fatal(err)
		}
		members := 0
		if v.Result != nil {
			members = groupMembers(v.Result.Snapshots)
		}
		if v.State == "done" && members > 0 {
			if v.Result.HandedOff || v.Result.Resumed || v.Result.Outcome != "created" {
				t.Errorf("finished record: handed_off %v, resumed %v, outcome %q", v.Result.HandedOff, v.Result.Resumed, v.Result.Outcome)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job was not finished after the caller exited: state %s, %d members known", v.State, members)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The members carry the job's tags (listing and retention find them so).
	tagged := 0
	for _, c := range env.Emu.Calls() {
		if c.Action == "TagResources" && c.Committed {
			tagged++
		}
	}
	if tagged == 0 {
		t.Error("the group's members were never tagged")
	}
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
// (so every job runs in process) and a state directory of its own.
func inProcessCLI(t *testing.T, env *ecsemutest.Env) func(args ...string) []byte {
	dir := t.TempDir()
	vars := []string{
		"ECSSNAP_CONFIG=/dev/null",
		"ECSSNAP_METADATA_ENDPOINT=" + env.IMDSURL, "ECSSNAP_API_ENDPOINT=" + env.APIURL,
		"ECSSNAP_SOCKET=" + filepath.Join(dir, "ecssnap.sock"), // no daemon: in process
		"ECSSNAP_STATE_DIR=" + filepath.Join(dir, "state"),
		"ECSSNAP_FREEZE_JOURNAL=" + filepath.Join(dir, "freeze.json"),
		"ALIBABA_CLOUD_ACCESS_KEY_ID=" + env.AccessKeyID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + env.AccessKeySecret,
	}
	return func(args ...string) []byte {
		t.Helper()
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, args...)
		cmd.Env = append(append(os.Environ(), runCLIEnv+"=1"), vars...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ecssnap %v: %v: %s", args, err, stderr.String())
		}
		return out
	}
}
