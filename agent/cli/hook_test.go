package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/localapi"
)

// aptInstall is apt's hook input recorded from `apt install -y
// ./ecssnap-sample-a_1.1_all.deb ./ecssnap-sample-b_2.0_all.deb` (one
// upgrade, one install).
const (
	aptInstallFile    = "../hook/testdata/apt/install-upgrade.v3"
	aptInstallCmdline = "apt install -y ./ecssnap-sample-a_1.1_all.deb ./ecssnap-sample-b_2.0_all.deb"
)

// hookConfig lets the hooks snapshot here (the test machine may look
// like a container or a chroot) and adds extra.
func hookConfig(t *testing.T, extra string) string {
	return writeConfig(t, "consistency: crash\npackage_hooks:\n  in_chroot: run\n  in_container: run\n"+extra)
}

func (h *harness) runStdin(stdin []byte, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = cli.Run(context.Background(), args, cli.Env{
		Stdin: bytes.NewReader(stdin), Stdout: &out, Stderr: &errOut, Now: time.Now,
		Getenv: func(k string) string {
			if v, ok := h.vars[k]; ok {
				return v
			}
			return os.Getenv(k)
		},
	})
	return code, out.String(), errOut.String()
}

// createCalls counts the emulator's successful create calls.
func createCalls(env *ecsemutest.Env) int {
	n := 0
	for _, c := range env.Emu.Calls() {
		if (c.Action == "CreateSnapshot" || c.Action == "CreateSnapshotGroup") && c.Code == "" {
			n++
		}
	}
	return n
}

// managedDescriptions are the descriptions of the per-disk snapshots and
// snapshot groups in the emulator (a group's members carry none of their
// own), read with the real SDK.
func managedDescriptions(t *testing.T, env *ecsemutest.Env) []string {
	t.Helper()
	c := env.ECSClient(t)
	req := ecs.CreateDescribeSnapshotsRequest()
	req.RegionId = env.RegionID
	req.InstanceId = env.InstanceID
	resp, err := c.DescribeSnapshots(req)
	if err != nil {
		t.Fatalf("DescribeSnapshots: %v", err)
	}
	greq := ecs.CreateDescribeSnapshotGroupsRequest()
	greq.RegionId = env.RegionID
	greq.InstanceId = env.InstanceID
	gresp, err := c.DescribeSnapshotGroups(greq)
	if err != nil {
		t.Fatalf("DescribeSnapshotGroups: %v", err)
	}
	var out []string
	member := map[string]bool{}
	for _, g := range gresp.SnapshotGroups.SnapshotGroup {
		out = append(out, g.Description)
		for _, s := range g.Snapshots.Snapshot {
			member[s.SnapshotId] = true
		}
	}
	for _, s := range resp.Snapshots.Snapshot {
		if !member[s.SnapshotId] {
			out = append(out, s.Description)
		}
	}
	return out
}

func jobCount(t *testing.T, h *harness) int {
	t.Helper()
	code, stdout, stderr := h.run("ecssnap", "list", "--json")
	if code != cli.ExitOK {
		t.Fatalf("list: exit %d: %s", code, stderr)
	}
	var jobs []json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &jobs); err != nil {
		t.Fatalf("list --json: %v\n%s", err, stdout)
	}
	return len(jobs)
}

// TestHookAptEndToEnd runs `ecssnap hook apt` as apt would (recorded
// protocol version 3 input on stdin) against the emulator, in process
// (no daemon): one job whose snapshots' description holds apt's command
// line, and a second call of the same session (the same frontend process:
// this test's parent) joins it instead of snapshotting again.
func TestHookAptEndToEnd(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(quickScenario()))
	h.vars["ECSSNAP_CONFIG"] = hookConfig(t, "")
	input, err := os.ReadFile(aptInstallFile)
	if err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := h.runStdin(input, "ecssnap", "hook", "apt")
	if code != 0 {
		t.Fatalf("hook apt: exit %d: %s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("hook apt wrote to stdout: %q", stdout)
	}
	if !strings.Contains(stderr, "snapshot before "+aptInstallCmdline) {
		t.Errorf("stderr does not report the snapshot: %q", stderr)
	}
	creates := createCalls(h.env)
	if creates == 0 {
		t.Fatal("no create call reached the emulator")
	}
	descs := managedDescriptions(t, h.env)
	if len(descs) == 0 {
		t.Fatal("no snapshots or groups in the emulator")
	}
	for _, d := range descs {
		if !strings.Contains(d, aptInstallCmdline) || !strings.Contains(d, "1 to install, 1 to upgrade") {
			t.Errorf("description %q lacks the apt command line or the changes", d)
		}
	}
	if n := jobCount(t, h); n != 1 {
		t.Fatalf("%d jobs after one hook call, want 1", n)
	}
	code, stdout, _ = h.run("ecssnap", "list", "--json")
	if code != 0 || !strings.Contains(stdout, `"trigger": "apt"`) || !strings.Contains(stdout, `ecssnap:packages`) {
		t.Errorf("the job record lacks the trigger or the package summary tag:\n%s", stdout)
	}

	// dpkg runs again in the same apt session: the hook joins.
	code, _, stderr = h.runStdin(input, "ecssnap", "hook", "apt")
	if code != 0 || !strings.Contains(stderr, "already taken, joined") {
		t.Fatalf("second hook call: exit %d: %s", code, stderr)
	}
	if got := createCalls(h.env); got != creates {
		t.Errorf("the second hook call of the session made %d more create calls", got-creates)
	}
	if n := jobCount(t, h); n != 1 {
		t.Errorf("%d jobs after two hook calls of one session, want 1", n)
	}
}

// TestHookAptFailClosed: the snapshot fails (the disk is at its snapshot
// quota with nothing ecssnap may evict); under fail-closed the hook exits
// non-zero, so apt stops before dpkg, with one line saying how to skip.
// Under fail-open it exits 0 with a warning, and ECSSNAP_SKIP=1 skips.
func TestHookAptFailClosed(t *testing.T) {
	full := quickScenario()
	full.Quota.ManualSnapshotsPerDisk = 1
	full.Snapshots = []ecsemu.Snapshot{{ID: "s-bp1full00000000001", DiskID: ecsemu.DemoEfficiencyDiskID, Status: "accomplished"}}
	input, err := os.ReadFile(aptInstallFile)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		policy  string
		vars    map[string]string
		code    int
		stderr  string
		creates bool
	}{
		{name: "fail-closed", policy: "  policy: {apt: fail-closed}\n", code: 1,
			stderr: "ecssnap: stopped apt before it changed anything: the snapshot failed: .*QuotaExceed.*ECSSNAP_SKIP=1 " + aptInstallCmdline},
		{name: "fail-open", policy: "  policy: {apt: fail-open}\n", code: 0,
			stderr: "WARNING: ecssnap: the snapshot before " + aptInstallCmdline + " failed: .*QuotaExceed.*goes on WITHOUT a snapshot"},
		{name: "skip", policy: "  policy: {apt: fail-closed}\n", vars: map[string]string{"ECSSNAP_SKIP": "1"}, code: 0,
			stderr: "ECSSNAP_SKIP=1: no snapshot before " + aptInstallCmdline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, ecsemutest.WithScenario(full))
			h.vars["ECSSNAP_CONFIG"] = hookConfig(t, tt.policy)
			for k, v := range tt.vars {
				h.vars[k] = v
			}
			code, _, stderr := h.runStdin(input, "ecssnap", "hook", "apt")
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.code, stderr)
			}
			if !matches(tt.stderr, stderr) {
				t.Errorf("stderr %q does not match %q", stderr, tt.stderr)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("more than one line on stderr:\n%s", stderr)
			}
		})
	}
}

// TestHookUnreachableFailsOpen: neither a daemon nor the metadata service
// answers; even under fail-closed the hook lets apt go on, loudly.
func TestHookUnreachableFailsOpen(t *testing.T) {
	h := newHarness(t, ecsemutest.WithFaults(ecsemu.Faults{IMDSOutage: true}))
	h.vars["ECSSNAP_CONFIG"] = hookConfig(t, "  policy: {apt: fail-closed}\n")
	input, err := os.ReadFile(aptInstallFile)
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := h.runStdin(input, "ecssnap", "hook", "apt")
	if code != 0 || !strings.Contains(stderr, "WARNING: ecssnap: NO SNAPSHOT before "+aptInstallCmdline+": neither the ecssnap daemon nor the cloud could be reached") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestHookBadConfig: a configuration that does not load still gives the
// package manager the default policy's verdict in one line. The hook's
// root is a tree without processes or container markers: an interactive
// run on a plain host, which the default policy stops.
func TestHookBadConfig(t *testing.T) {
	h := newHarness(t)
	h.vars["ECSSNAP_CONFIG"] = writeConfig(t, "package_hooks:\n  policy: {apt: maybe}\n")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "proc", "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(root, filepath.Join(root, "proc", "1", "root")); err != nil {
		if err := os.MkdirAll(filepath.Join(root, "proc", "1"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(root, filepath.Join(root, "proc", "1", "root")); err != nil {
			t.Fatal(err)
		}
	}
	h.vars["ECSSNAP_ROOT"] = root
	input, err := os.ReadFile(aptInstallFile)
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := h.runStdin(input, "ecssnap", "hook", "apt")
	want := `ecssnap: stopped apt before it changed anything: the snapshot failed: package_hooks.policy "apt": "maybe" is neither fail-closed nor fail-open.*ECSSNAP_SKIP=1 apt install`
	if code != 1 || !matches(want, stderr) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := h.run("ecssnap", "now"); code != cli.ExitConfig || !strings.Contains(stderr, "package_hooks.policy") {
		t.Errorf("now with a bad package_hooks policy: exit %d, %q", code, stderr)
	}
}

// TestHookThroughDaemon runs the hook against a daemon (this test binary
// as its own process): the first call creates the job, the second of the
// same session joins it.
func TestHookThroughDaemon(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(quickScenario()))
	h.vars["ECSSNAP_CONFIG"] = hookConfig(t, "")
	stop := startDaemon(t, h.vars)
	defer stop()
	input, err := os.ReadFile(aptInstallFile)
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := h.runStdin(input, "ecssnap", "hook", "apt")
	if code != 0 || !hookCreated.MatchString(stderr) {
		t.Fatalf("first call: exit %d: %s", code, stderr)
	}
	creates := createCalls(h.env)
	// The same session's next dpkg run, with other packages: it joins, and
	// the job's record lists the packages of both.
	removal, err := os.ReadFile("../hook/testdata/apt/remove.v3")
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr = h.runStdin(removal, "ecssnap", "hook", "apt")
	if code != 0 || !strings.Contains(stderr, "already taken, joined") {
		t.Fatalf("second call: exit %d: %s", code, stderr)
	}
	if got := createCalls(h.env); got != creates || creates == 0 {
		t.Errorf("create calls: %d after the first call, %d after the second", creates, got)
	}
	code, stdout, _ := h.run("ecssnap", "list", "--json")
	var jobs []localapi.JobView
	if err := json.Unmarshal([]byte(stdout), &jobs); err != nil || code != 0 || len(jobs) != 1 {
		t.Fatalf("list --json: exit %d, %v\n%s", code, err, stdout)
	}
	want := []string{"upgrade ecssnap-sample-a:all 1.0 -> 1.1", "install ecssnap-sample-b:all 2.0",
		"remove ecssnap-sample-b:all 2.0", "remove ecssnap-sample-a:all 1.1"}
	if !slices.Equal(jobs[0].Packages, want) {
		t.Errorf("the job's packages %q, want %q", jobs[0].Packages, want)
	}
	code, stdout, _ = h.run("ecssnap", "show", jobs[0].ID)
	if code != 0 || !strings.Contains(stdout, "taken before 4 package changes:\n  upgrade ecssnap-sample-a:all 1.0 -> 1.1\n") {
		t.Errorf("show: exit %d\n%s", code, stdout)
	}
}

// startDaemon runs `ecssnap daemon` (this test binary) with vars and
// waits until it answers; stop ends it.
func startDaemon(t testing.TB, vars map[string]string) (stop func()) {
	t.Helper()
	var logs bytes.Buffer
	cmd := launchDaemon(t, vars, &logs)
	stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	socket := vars["ECSSNAP_SOCKET"]
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := localapi.NewClient(socket).Health(context.Background()); err == nil {
			return stop
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("the daemon did not answer on %s: %s", filepath.Base(socket), logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// launchDaemon starts `ecssnap daemon` (this test binary) with vars in its
// environment and its log to stderr; startDaemon and startKillableDaemon
// wait for it in their own ways.
func launchDaemon(t testing.TB, vars map[string]string, stderr io.Writer) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "daemon")
	cmd.Env = append(os.Environ(), runCLIEnv+"=1")
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func matches(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// hookCreated is the end of the hook's line for snapshots taken.
var hookCreated = regexp.MustCompile(`, \d+ snapshots? created`)
