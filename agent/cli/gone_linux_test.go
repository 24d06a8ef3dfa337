package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// startKillableDaemon runs `ecssnap daemon` (this test binary) and returns
// its process once it answers.
func startKillableDaemon(t *testing.T, vars map[string]string) *exec.Cmd {
	t.Helper()
	cmd := launchDaemon(t, vars, &prefixWriter{t: t})
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	waitHealthy(t, vars["ECSSNAP_SOCKET"])
	return cmd
}

// TestDaemonGoneMidRequest kills the daemon while `now --no-wait --json`
// waits for its creates. Before, the CLI printed `Post
// "http://local-ecssnap/v1/jobs": EOF`, exit 1, and `null`, although the
// job was recorded and the next daemon finished it. Now it says the daemon
// went away, that the job was recorded, which, and how to follow it, with
// a JSON document on stdout and exit 69; the next daemon finishes the job
// with the one snapshot group the first create made.
func TestDaemonGoneMidRequest(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(quickScenario()))
	daemon := startKillableDaemon(t, h.vars)
	hold := h.env.Emu.HoldCalls("CreateSnapshotGroup")
	type ran struct {
		code           int
		stdout, stderr string
	}
	done := make(chan ran, 1)
	go func() {
		code, stdout, stderr := h.run("ecssnap", "now", "--no-wait", "--json")
		done <- ran{code, stdout, stderr}
	}()
	select {
	case <-hold.Arrived():
	case <-time.After(20 * time.Second):
		t.Fatal("the create never arrived")
	}
	daemon.Process.Kill()
	daemon.Wait()
	r := <-done
	hold.Release()

	if r.code != cli.ExitUnavailable {
		t.Errorf("exit %d, want %d", r.code, cli.ExitUnavailable)
	}
	oneLine(t, r.stderr)
	var doc struct {
		JobID    string `json:"job_id"`
		Outcome  string `json:"outcome"`
		Error    string `json:"error"`
		ExitCode int    `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.JobID == "" || doc.ExitCode != cli.ExitUnavailable || doc.Outcome != "unknown" {
		t.Fatalf("stdout %q: %v", r.stdout, err)
	}
	for _, want := range []string{"went away during the request", "job " + doc.JobID + " was recorded", "`ecssnap show " + doc.JobID + "`"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q lacks %q", r.stderr, want)
		}
	}

	// The next daemon finishes it, with the create the first one sent.
	startKillableDaemon(t, h.vars)
	waitDone(t, localapi.NewClient(h.vars["ECSSNAP_SOCKET"]), doc.JobID)
	code, stdout, _ := h.run("ecssnap", "show", "--json", doc.JobID)
	var v localapi.JobView
	if err := json.Unmarshal([]byte(stdout), &v); err != nil || code != 0 || v.Result == nil || v.Result.GroupID == "" {
		t.Errorf("show: exit %d, %v\n%s", code, err, stdout)
	}
	groups := map[string]bool{}
	for _, c := range h.env.Emu.Calls() {
		if c.Action == "CreateSnapshotGroup" && c.Committed {
			groups[c.Params["ClientToken"]] = true
		}
	}
	made := map[string]bool{}
	for _, s := range h.env.Emu.Snapshots() {
		if s.GroupID != "" {
			made[s.GroupID] = true
		}
	}
	if len(groups) != 1 || len(made) != 1 {
		t.Errorf("create tokens %v, snapshot groups %v; want one", groups, made)
	}
}

// TestDaemonGoneBeforeRecording: a daemon that dies before it records the
// request leaves nothing to follow: the CLI says so and exits 75, since
// running the command again is the thing to do.
func TestDaemonGoneBeforeRecording(t *testing.T) {
	testenv.RequireTool(t, "python3")
	h := newHarness(t, ecsemutest.WithScenario(quickScenario()))
	// A "daemon" that accepts and closes: it never records anything.
	socket := h.vars["ECSSNAP_SOCKET"]
	fake := exec.Command("python3", "-c", `
import socket, sys, os
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
while True:
    c, _ = s.accept(); c.recv(65536); c.close()
`, socket)
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.Process.Kill(); fake.Wait() })
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(socket); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, stdout, stderr := h.run("ecssnap", "now", "--no-wait", "--json")
	if code != cli.ExitTemporary || !strings.Contains(stderr, "went away during the request") || !strings.Contains(stderr, "before it recorded a job: nothing was done") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	oneLine(t, stderr)
	var doc map[string]any
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || doc["exit_code"] != float64(cli.ExitTemporary) {
		t.Errorf("stdout %q: %v", stdout, err)
	}
	if n := createCalls(h.env); n != 0 {
		t.Errorf("%d creates", n)
	}
}

// TestDaemonGoneWhileFollowing kills the daemon while `now --wait --json`
// follows its job: the CLI names the job, recorded and unfinished, and the
// last line of its NDJSON stream is a result document, not `null`.
func TestDaemonGoneWhileFollowing(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(slowScenario()))
	daemon := startKillableDaemon(t, h.vars)
	p := startCLI(t, h.vars, "now", "--wait", "--json")
	p.waitLine(t, `"type":"progress"`)
	daemon.Process.Kill()
	daemon.Wait()
	for range p.lines {
	}
	p.cmd.Wait()
	code, stderr := p.cmd.ProcessState.ExitCode(), p.stderr.String()
	if code != cli.ExitUnavailable || !strings.Contains(stderr, "went away during the request") ||
		!matches(`job (j-\S+) was recorded \((waiting|created)\): the daemon finishes it when it starts again .*`+"`ecssnap show j-", stderr) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	oneLine(t, stderr)
	lines := strings.Split(strings.TrimSpace(p.stdout.String()), "\n")
	var last struct {
		Type     string `json:"type"`
		JobID    string `json:"job_id"`
		ExitCode int    `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Type != "result" || last.JobID == "" || last.ExitCode != cli.ExitUnavailable {
		t.Errorf("last line %q: %v", lines[len(lines)-1], err)
	}
}
