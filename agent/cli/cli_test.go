package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/freeze"
	"github.com/ecssnap/ecssnap/pkg/job"
)

func TestMain(m *testing.M) {
	// The engine re-executes this test binary as the freeze helper.
	if os.Getenv(freeze.HelperEnv) != "" {
		os.Exit(freeze.RunHelper())
	}
	// credentials-go's default chain ends at the real metadata address;
	// tests must never reach for it (the production-defaults child, which
	// runs in a private namespace, clears this).
	os.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	os.Setenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true")
	// Tests that need ecssnap as a separate process (a daemon to kill) run
	// this binary as it.
	if os.Getenv(runCLIEnv) == "1" {
		if os.Getenv(finisherDiesEnv) == "1" && len(os.Args) > 1 && os.Args[1] == "finish-handed-off" {
			os.Exit(137) // as if killed before it took the store
		}
		ctx, stop := cli.SignalContext(context.Background())
		code := cli.Run(ctx, append([]string{"ecssnap"}, os.Args[1:]...), cli.OSEnv())
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// runCLIEnv makes the test binary behave as the ecssnap binary.
const runCLIEnv = "ECSSNAP_TEST_RUN_CLI"

// finisherDiesEnv makes the process a handed-off job starts to finish it
// die at once, as if killed.
const finisherDiesEnv = "ECSSNAP_TEST_FINISHER_DIES"

// harness runs the CLI in process against one emulator.
type harness struct {
	t    *testing.T
	env  *ecsemutest.Env
	vars map[string]string
}

func newHarness(t *testing.T, opts ...ecsemutest.Option) *harness {
	t.Helper()
	env := ecsemutest.Start(t, opts...)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", env.AccessKeyID)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", env.AccessKeySecret)
	t.Setenv("HOME", t.TempDir())
	// The emulator's disks are not this machine's, so nothing could be
	// frozen: these tests ask for crash consistency (freezing has its own).
	return &harness{t: t, env: env, vars: map[string]string{
		"ECSSNAP_METADATA_ENDPOINT": env.IMDSURL,
		"ECSSNAP_API_ENDPOINT":      env.APIURL,
		"ECSSNAP_CONFIG":            writeConfig(t, "consistency: crash\n"),
		"ECSSNAP_FREEZE_JOURNAL":    filepath.Join(t.TempDir(), "freeze.json"),
		"ECSSNAP_SOCKET":            filepath.Join(t.TempDir(), "ecssnap.sock"),
		"ECSSNAP_STATE_DIR":         filepath.Join(t.TempDir(), "state"),
	}}
}

func (h *harness) run(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = cli.Run(context.Background(), args, cli.Env{
		Stdout: &out, Stderr: &errOut, Now: time.Now,
		Getenv: func(k string) string {
			if v, ok := h.vars[k]; ok {
				return v
			}
			return os.Getenv(k)
		},
	})
	return code, out.String(), errOut.String()
}

func quickScenario() *ecsemu.Scenario {
	sc := ecsemu.DemoScenario()
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(300 * time.Millisecond)}
	return sc
}

func TestSnapshotNowJSONStream(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(quickScenario()))
	code, stdout, stderr := h.run("/usr/bin/snapshot-now", "--wait", "--json", "--reason", "kernel upgrade")
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var types []string
	for _, l := range lines[:len(lines)-1] {
		var ev job.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("event line %q: %v", l, err)
		}
		types = append(types, ev.Type)
	}
	if types[0] != "plan" || !contains(types, "created") || !contains(types, "accomplished") {
		t.Errorf("event types = %v", types)
	}
	var res struct {
		Type string `json:"type"`
		job.Result
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatal(err)
	}
	if res.Type != "result" || res.Outcome != "succeeded" || res.Reason != "kernel upgrade" || res.GroupID == "" {
		t.Errorf("result = %+v", res.Result)
	}
	for _, s := range res.Snapshots {
		if s.SnapshotID == "" || s.State != "accomplished" {
			t.Errorf("snapshot %+v", s)
		}
	}
	if res.Timings.TotalMS <= 0 || res.Timings.ToCreatedMS <= 0 || res.APICalls == 0 {
		t.Errorf("timings %+v, api calls %d", res.Timings, res.APICalls)
	}
}

func TestNowPlainOutput(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(quickScenario()))
	code, stdout, stderr := h.run("ecssnap", "now", "--wait", "--disks", "data")
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	stamped := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ j-\S+ `)
	lines := strings.Split(stdout, "\n")
	if !stamped.MatchString(lines[0]) || !strings.Contains(lines[0], "plan:") {
		t.Errorf("first line %q is not a timestamped plan line", lines[0])
	}
	if !strings.Contains(stdout, "DISK") || !strings.Contains(stdout, "SNAPSHOT") || !strings.Contains(stdout, "succeeded") {
		t.Errorf("no final table or summary:\n%s", stdout)
	}
	if strings.Contains(stdout, ecsemu.DefaultSystemDiskID) {
		t.Errorf("--disks data included the system disk:\n%s", stdout)
	}
	if strings.Contains(stdout, "\033[") {
		t.Error("terminal escapes in non-terminal output")
	}
}

func TestDisksListShowStatus(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(quickScenario()))
	code, stdout, stderr := h.run("ecssnap", "disks")
	if code != cli.ExitOK || !strings.Contains(stdout, ecsemu.DemoEfficiencyDiskID) || !strings.Contains(stdout, "cloud_efficiency") {
		t.Fatalf("disks: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, _ := h.run("ecssnap", "list", "--snapshots"); code != cli.ExitOK || !strings.Contains(stdout, "No snapshots") {
		t.Fatalf("list before any job: exit %d\n%s", code, stdout)
	}
	if code, stdout, _ := h.run("ecssnap", "list"); code != cli.ExitOK || !strings.Contains(stdout, "No jobs recorded") {
		t.Fatalf("job history before any job: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := h.run("ecssnap", "now", "--no-wait", "--trigger", "apt"); code != cli.ExitOK {
		t.Fatalf("now: %s", stderr)
	}
	code, stdout, _ = h.run("ecssnap", "list", "--snapshots", "--json")
	var snaps []map[string]any
	if err := json.Unmarshal([]byte(stdout), &snaps); err != nil || code != 0 || len(snaps) != 3 {
		t.Fatalf("list --snapshots --json: exit %d, %d snapshots, %v\n%s", code, len(snaps), err, stdout)
	}
	// The in-process job was recorded in the store.
	code, stdout, _ = h.run("ecssnap", "list", "--json")
	var jobs []struct {
		ID     string `json:"id"`
		State  string `json:"state"`
		Result *job.Result
	}
	if err := json.Unmarshal([]byte(stdout), &jobs); err != nil || code != 0 || len(jobs) != 1 || jobs[0].State != "done" ||
		jobs[0].Result == nil || jobs[0].Result.Trigger != "apt" {
		t.Fatalf("list --json: exit %d, %v\n%s", code, err, stdout)
	}
	code, stdout, _ = h.run("ecssnap", "show", jobs[0].ID)
	if code != cli.ExitOK || !strings.Contains(stdout, "Job "+jobs[0].ID+": done, trigger apt") || !strings.Contains(stdout, "SNAPSHOT") {
		t.Errorf("show: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := h.run("ecssnap", "show", "j-20200101-000000-00000000"); code != cli.ExitFailed || !strings.Contains(stderr, "no job") {
		t.Errorf("show unknown: exit %d %s", code, stderr)
	}
	code, stdout, _ = h.run("ecssnap", "status")
	if code != cli.ExitOK || !strings.Contains(stdout, "daemon: not running") || !strings.Contains(stdout, "last job: "+jobs[0].ID) {
		t.Errorf("status: exit %d\n%s", code, stdout)
	}
}

func TestDryRunCreatesNothing(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(quickScenario()))
	code, stdout, _ := h.run("ecssnap", "now", "--dry-run", "--json")
	if code != cli.ExitOK || !strings.Contains(stdout, `"outcome": "planned"`) {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	for _, c := range h.env.Emu.Calls() {
		if strings.HasPrefix(c.Action, "Create") {
			t.Errorf("dry run called %s", c.Action)
		}
	}
	code, stdout, _ = h.run("ecssnap", "plan")
	if code != cli.ExitOK || !strings.Contains(stdout, "one snapshot group") || !strings.Contains(stdout, "per-disk snapshot") {
		t.Errorf("plan: exit %d\n%s", code, stdout)
	}
}

func TestExitCodes(t *testing.T) {
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return "http://" + l.Addr().String()
	}()
	// A web server where the metadata service should be: its page must not
	// be taken for the instance's identity.
	webServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<!DOCTYPE html>\n<html><body>Welcome</body></html>\n"))
	}))
	defer webServer.Close()
	badConfig := t.TempDir() + "/config.yaml"
	if err := os.WriteFile(badConfig, []byte("no_such_key: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	quota := quickScenario()
	quota.Quota.ManualSnapshotsPerDisk = 1
	quota.Snapshots = []ecsemu.Snapshot{{ID: "s-bp1full00000000001", DiskID: ecsemu.DemoEfficiencyDiskID, Status: "accomplished"}}

	tests := []struct {
		name     string
		opts     []ecsemutest.Option
		vars     map[string]string
		args     []string
		code     int
		stderrRE string
	}{
		{name: "unknown command", args: []string{"ecssnap", "snapshot"}, code: cli.ExitUsage, stderrRE: `unknown command "snapshot"`},
		{name: "no command", args: []string{"ecssnap"}, code: cli.ExitUsage, stderrRE: "Usage:"},
		{name: "bad flag", args: []string{"ecssnap", "now", "--frobnicate"}, code: cli.ExitUsage, stderrRE: "frobnicate"},
		{name: "wait and no-wait", args: []string{"ecssnap", "now", "--wait", "--no-wait"}, code: cli.ExitUsage, stderrRE: "contradict"},
		{name: "bad disks", args: []string{"ecssnap", "now", "--disks", "vdb"}, code: cli.ExitUsage, stderrRE: `--disks "vdb"`},
		{name: "bad tag", args: []string{"ecssnap", "now", "--tag", "acs:x=1"}, code: cli.ExitUsage, stderrRE: "acs:"},
		{name: "bad retention", args: []string{"ecssnap", "now", "--retention-days", "0x"}, code: cli.ExitUsage, stderrRE: "retention-days"},
		{name: "bad config", vars: map[string]string{"ECSSNAP_CONFIG": badConfig}, args: []string{"ecssnap", "now"}, code: cli.ExitConfig, stderrRE: "no_such_key"},
		{name: "not on ECS", vars: map[string]string{"ECSSNAP_METADATA_ENDPOINT": closed}, args: []string{"snapshot-now"}, code: cli.ExitUnavailable,
			stderrRE: `metadata service at http://127\.0\.0\.1:\d+ is unreachable: is this an ECS instance\?`},
		{name: "not the metadata service", vars: map[string]string{"ECSSNAP_METADATA_ENDPOINT": webServer.URL}, args: []string{"snapshot-now"},
			code: cli.ExitUnavailable, stderrRE: `no ECS metadata service at http://127\.0\.0\.1:\d+: it answered "<!DOCTYPE html>.*"... for the token: is this an ECS instance\?`},
		{name: "empty answer", opts: []ecsemutest.Option{ecsemutest.WithFaults(ecsemu.Faults{BadAnswer: ecsemu.BadAnswerEmpty, BadAnswerRate: 1, Actions: []string{"DescribeDisks"}})},
			args: []string{"snapshot-now"}, code: cli.ExitFailed, stderrRE: `DescribeDisks i-\S+ failed: malformed answer from http://\S+: an empty answer \(3 attempts\)`},
		{name: "throttled", opts: []ecsemutest.Option{ecsemutest.WithFaults(ecsemu.Faults{ThrottleRate: 1})},
			vars: map[string]string{"ECSSNAP_CONFIG": writeConfig(t, "api:\n  retry_budget: 1s\n")},
			args: []string{"snapshot-now"}, code: cli.ExitTemporary, stderrRE: "Throttling"},
		{name: "quota", opts: []ecsemutest.Option{ecsemutest.WithScenario(quota)}, args: []string{"snapshot-now", "--no-wait"},
			code: cli.ExitFailed, stderrRE: "QuotaExceed.Snapshot: .*ecssnap prune"},
		{name: "wrong secret", vars: map[string]string{}, args: []string{"snapshot-now"}, code: cli.ExitPermission, stderrRE: "SignatureDoesNotMatch"},
		{name: "unknown disk", args: []string{"snapshot-now", "--disks", "d-bp1notmine"}, code: cli.ExitFailed, stderrRE: "not attached to this instance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.opts...)
			if tt.name == "wrong secret" {
				t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-the-secret")
			}
			for k, v := range tt.vars {
				h.vars[k] = v
			}
			start := time.Now()
			code, _, stderr := h.run(tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.code, stderr)
			}
			if !regexp.MustCompile(tt.stderrRE).MatchString(stderr) {
				t.Errorf("stderr %q does not match %q", stderr, tt.stderrRE)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") > 0 && tt.code != cli.ExitUsage {
				t.Errorf("error is more than one line:\n%s", stderr)
			}
			if tt.code == cli.ExitUnavailable && time.Since(start) > 3*time.Second {
				t.Errorf("took %v to report the metadata service unreachable", time.Since(start))
			}
		})
	}
}

func TestNoCredentials(t *testing.T) {
	h := newHarness(t)
	os.Unsetenv("ALIBABA_CLOUD_ACCESS_KEY_ID")
	os.Unsetenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
	code, _, stderr := h.run("snapshot-now")
	// One line that names what is missing, not the chain's every provider.
	want := "no credentials: ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set, " + os.Getenv("HOME") + "/.alibabacloud/credentials does not exist"
	if code != cli.ExitConfig || !strings.Contains(stderr, want) || strings.Count(stderr, "\n") != 1 ||
		len(stderr) > 400 || strings.Contains(stderr, "unable to get credentials") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	// Half a key: the half that is missing.
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", h.env.AccessKeyID)
	os.Unsetenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
	code, _, stderr = h.run("ecssnap", "disks")
	if code != cli.ExitConfig || !strings.Contains(stderr, "no credentials: ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set (ALIBABA_CLOUD_ACCESS_KEY_ID is)") {
		t.Errorf("disks: exit %d, stderr %q", code, stderr)
	}
}

func TestVersionAndHelp(t *testing.T) {
	h := &harness{t: t, vars: map[string]string{}}
	if code, out, _ := h.run("ecssnap", "--version"); code != 0 || !strings.HasPrefix(out, "ecssnap ") {
		t.Errorf("--version: %d %q", code, out)
	}
	if code, out, _ := h.run("ecssnap", "now", "-h"); code != 0 || !strings.Contains(out, "--retention-days") {
		t.Errorf("now -h: %d %q", code, out)
	}
	// -h of a command that takes an argument prints its flags too.
	if code, out, _ := h.run("ecssnap", "show", "-h"); code != 0 || !strings.Contains(out, "--json") {
		t.Errorf("show -h: %d %q", code, out)
	}
}

func writeConfig(t *testing.T, body string) string {
	p := t.TempDir() + "/config.yaml"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
