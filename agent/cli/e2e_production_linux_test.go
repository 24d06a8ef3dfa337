package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// childEnv marks the re-executed test binary that runs inside the private
// namespaces.
const childEnv = "ECSSNAP_E2E_PRODUCTION_CHILD"

// TestProductionDefaults runs snapshot-now with no override at all (crash
// consistency: the emulator's disks are not this machine's): the
// metadata service at 100.100.100.200:80, the API at
// https://ecs-vpc.<region>.aliyuncs.com, credentials from the RAM role through
// credentials-go. The real addresses exist only inside a private network
// namespace (100.100.100.200 on its loopback) and a private mount namespace
// (a hosts file naming the VPC endpoint 127.0.0.1), so nothing leaves the
// machine.
func TestProductionDefaults(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		t.Skip("parent-only test")
	}
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "unshare", "ip")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--net", "--mount", "--", exe,
		"-test.run=^TestProductionDefaultsChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestProductionDefaultsChild") {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
}

func TestProductionDefaultsChild(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("runs only inside TestProductionDefaults' namespaces")
	}
	run := func(name string, args ...string) {
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	// Refuse to go on unless this really is a private network namespace:
	// the only interface must be loopback.
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 || !strings.Contains(string(out), "lo:") {
		t.Fatalf("not in a loopback-only network namespace:\n%s", out)
	}
	run("ip", "link", "set", "lo", "up")
	run("ip", "addr", "add", "100.100.100.200/32", "dev", "lo")

	sc := ecsemu.DefaultScenario()
	sc.RAMRole = &ecsemu.RAMRole{Name: "EcssnapRole"}
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(300 * time.Millisecond)}
	dir := t.TempDir()

	// Private /etc/hosts: the region's VPC endpoint is this machine.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		t.Fatalf("make mounts private: %v", err)
	}
	hosts := filepath.Join(dir, "hosts")
	endpoint := "ecs-vpc." + sc.Region + ".aliyuncs.com"
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost "+endpoint+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(hosts, "/etc/hosts", "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind hosts file: %v", err)
	}
	// The production state and runtime directories, empty and private.
	for _, dir := range []string{"/run", "/var/lib"} {
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
			t.Fatalf("private %s: %v", dir, err)
		}
	}

	emu, err := ecsemu.New(sc, ecsemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ecsemu.Listen(emu, ecsemu.ServerConfig{
		APIAddr: "127.0.0.1:443", IMDSAddr: "100.100.100.200:80", AdminAddr: "127.0.0.1:0",
		TLS: true, CADir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })

	// Nothing from the developer's environment may steer the run.
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "ECSSNAP_") || strings.HasPrefix(k, "ALIBABA_CLOUD_") ||
			strings.HasSuffix(strings.ToUpper(k), "_PROXY") {
			t.Setenv(k, "") // restored after the test
			os.Unsetenv(k)
		}
	}
	t.Setenv("HOME", dir)
	t.Setenv("SSL_CERT_FILE", srv.CAFile)

	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), []string{"snapshot-now", "--wait", "--json", "--consistency", "crash", "--reason", "production defaults"},
		cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: os.Getenv, Now: time.Now})
	if code != cli.ExitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var res job.Result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line is not the result: %v\n%s", err, stdout.String())
	}
	if res.Outcome != "succeeded" || res.InstanceID != sc.Instance.ID || len(res.Snapshots) == 0 {
		t.Fatalf("result = %+v", res)
	}
	// Every API call was signed with STS credentials from the RAM role.
	for _, c := range emu.Calls() {
		if !strings.HasPrefix(c.Params["AccessKeyId"], "STS.") || c.Params["SecurityToken"] == "" {
			t.Errorf("%s signed with %q, want RAM-role STS credentials", c.Action, c.Params["AccessKeyId"])
		}
	}
}
