package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

func TestDoctor(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(quickScenario()))
	code, stdout, stderr := h.run("ecssnap", "doctor", "--json")
	var checks []struct{ Name, Result, Detail string }
	if err := json.Unmarshal([]byte(stdout), &checks); err != nil {
		t.Fatalf("%v\n%s%s", err, stdout, stderr)
	}
	got := map[string]string{}
	for _, c := range checks {
		got[c.Name] = c.Result
		if c.Detail == "" {
			t.Errorf("%s has no detail", c.Name)
		}
	}
	for _, name := range []string{"API endpoint", "metadata service", "instance identity", "credentials", "RAM ecs:CreateSnapshot",
		"RAM ecs:DescribeDisks", "RAM ecs:DeleteSnapshotGroup", "quota d-bp1ecssnapeff0000001"} {
		if got[name] != "PASS" {
			t.Errorf("%s = %q, want PASS (all: %v)", name, got[name], got)
		}
	}
	if got["snapshot group"] != "WARN" { // the cloud_efficiency disk cannot join
		t.Errorf("snapshot group = %q", got["snapshot group"])
	}
	if got["daemon"] != "WARN" {
		t.Errorf("daemon = %q with no daemon running", got["daemon"])
	}
	if code != cli.ExitOK {
		t.Errorf("exit %d with no FAIL: %s", code, stderr)
	}

	// Not on ECS: a FAIL, exit 1, and the rest says why it was not checked.
	h.vars["ECSSNAP_METADATA_ENDPOINT"] = "http://127.0.0.1:1"
	code, stdout, stderr = h.run("ecssnap", "doctor")
	if code != cli.ExitFailed || !strings.Contains(stdout, "FAIL  metadata service") || !strings.Contains(stdout, "not checked") {
		t.Errorf("exit %d\n%s", code, stdout)
	}
	// One failed check is one, not "1 checks".
	if fails := strings.Count(stdout, "FAIL "); fails != 1 || stderr != "ecssnap: doctor: 1 check failed; see the lines marked FAIL\n" {
		t.Errorf("%d FAIL lines, stderr %q", fails, stderr)
	}
}

// Plain HTTP to a remote API endpoint is refused (exit 78) unless
// api_insecure_http is set, and then the doctor warns about it. The
// metadata service is unreachable here, so nothing is sent to the endpoint.
func TestDoctorInsecureAPIEndpoint(t *testing.T) {
	h := newHarness(t)
	h.vars["ECSSNAP_METADATA_ENDPOINT"] = "http://127.0.0.1:1"
	h.vars["ECSSNAP_API_ENDPOINT"] = "http://192.0.2.10"
	code, _, stderr := h.run("ecssnap", "doctor")
	if code != cli.ExitConfig || !strings.Contains(stderr, "api_insecure_http") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("plain HTTP endpoint: exit %d, %q", code, stderr)
	}
	h.vars["ECSSNAP_CONFIG"] = writeConfig(t, "consistency: crash\napi_insecure_http: true\n")
	_, stdout, _ := h.run("ecssnap", "doctor")
	if !strings.Contains(stdout, "WARN  API endpoint") || !strings.Contains(stdout, "in clear") {
		t.Errorf("doctor with api_insecure_http:\n%s", stdout)
	}
}

// The doctor reports hook scripts that a job would refuse, and why.
func TestDoctorHookScripts(t *testing.T) {
	h := newHarness(t)
	h.vars["ECSSNAP_METADATA_ENDPOINT"] = "http://127.0.0.1:1" // the rest is not the point
	dir := filepath.Join(t.TempDir(), "hooks.d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "10-quiesce"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil { // umask-proof
		t.Fatal(err)
	}
	h.vars["ECSSNAP_HOOKS_DIR"] = dir
	_, stdout, _ := h.run("ecssnap", "doctor")
	if !matches(`FAIL\s+hook scripts\s+`+regexp.QuoteMeta(dir)+`: refused, so every job's hook phases fail: .*writable by group or others`, stdout) {
		t.Errorf("doctor:\n%s", stdout)
	}
}
