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
func TestInProcessNoWaitHandsOffTheBookkeeping(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(quickScenario()))
	dir := t.TempDir()
	vars := []string{
		"ECSSNAP_CONFIG=/dev/null",
		"ECSSNAP_METADATA_ENDPOINT=" + env.IMDSURL, "ECSSNAP_API_ENDPOINT=" + env.APIURL,
		"ECSSNAP_SOCKET=" + filepath.Join(dir, "ecssnap.sock"), // no daemon: in process
		"ECSSNAP_STATE_DIR=" + filepath.Join(dir, "state"),
		"ECSSNAP_FREEZE_JOURNAL=" + filepath.Join(dir, "freeze.json"),
		"ALIBABA_CLOUD_ACCESS_KEY_ID=" + env.AccessKeyID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + env.AccessKeySecret,
	}
	run := func(args ...string) []byte {
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
	var res job.Result
	if err := json.Unmarshal(run("now", "--no-wait", "--json", "--consistency", "crash", "--disks", "all"), &res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != "created" || !res.HandedOff || res.GroupID == "" {
		t.Fatalf("outcome %q, handed_off %v, group %q; want created and handed off with a group", res.Outcome, res.HandedOff, res.GroupID)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var v localapi.JobView
		if err := json.Unmarshal(run("show", "--json", res.JobID), &v); err != nil {
			t.Fatal(err)
		}
		members := 0
		if v.Result != nil {
			for _, s := range v.Result.Snapshots {
				if s.Method == "group" && s.SnapshotID != "" {
					members++
				}
			}
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
