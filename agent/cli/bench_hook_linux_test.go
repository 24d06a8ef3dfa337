package cli_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// BenchmarkHookCoalesced measures what one `ecssnap hook apt` adds to an
// apt transaction when its session already has a job whose snapshots are
// created (every dpkg run after the first of one apt or
// unattended-upgrades invocation): the built binary exec'd with apt's
// recorded version 3 input on stdin, the daemon running. Target: under
// 50 ms. The metric name and unit ("added-ms") are read by `make bench`.
func BenchmarkHookCoalesced(b *testing.B) {
	env := ecsemutest.Start(b, ecsemutest.WithScenario(quickScenario()))
	dir := b.TempDir()
	bin := filepath.Join(dir, "ecssnap")
	build := exec.Command("go", "build", "-o", bin, "../cmd/ecssnap")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	config := filepath.Join(dir, "config.yaml")
	body := "consistency: crash\npackage_hooks:\n  in_chroot: run\n  in_container: run\n"
	if err := os.WriteFile(config, []byte(body), 0o644); err != nil {
		b.Fatal(err)
	}
	vars := map[string]string{
		"ECSSNAP_CONFIG":                  config,
		"ECSSNAP_METADATA_ENDPOINT":       env.IMDSURL,
		"ECSSNAP_API_ENDPOINT":            env.APIURL,
		"ECSSNAP_SOCKET":                  filepath.Join(dir, "ecssnap.sock"),
		"ECSSNAP_STATE_DIR":               filepath.Join(dir, "state"),
		"ECSSNAP_FREEZE_JOURNAL":          filepath.Join(dir, "freeze.json"),
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     env.AccessKeyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": env.AccessKeySecret,
	}
	stop := startDaemon(b, vars)
	defer stop()
	input, err := os.ReadFile(aptInstallFile)
	if err != nil {
		b.Fatal(err)
	}
	var environ []string
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	environ = append(os.Environ(), environ...)
	hook := func() string {
		cmd := exec.Command(bin, "hook", "apt")
		cmd.Env = environ
		cmd.Stdin = bytes.NewReader(input)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("ecssnap hook apt: %v: %s", err, stderr.String())
		}
		return stderr.String()
	}
	// The first call of the session (this process) creates the job.
	if out := hook(); !hookCreated.MatchString(out) {
		b.Fatalf("first hook call: %s", out)
	}

	b.ResetTimer()
	var total, floor time.Duration
	for range b.N {
		start := time.Now()
		out := hook()
		total += time.Since(start)
		if !strings.Contains(out, "already taken, joined") {
			b.Fatalf("the hook did not join the session's job: %s", out)
		}
		// The floor: the same binary started and ended doing nothing
		// (--version), measured alternately under the same load.
		b.StopTimer()
		start = time.Now()
		if err := exec.Command(bin, "--version").Run(); err != nil {
			b.Fatal(err)
		}
		floor += time.Since(start)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "added-ms")
	b.ReportMetric(float64(floor.Microseconds())/float64(b.N)/1000, "exec-floor-ms")
}
