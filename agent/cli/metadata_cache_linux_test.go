package cli_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// TestDaemonKeepsIdentity: once the daemon has read the instance's
// identity, a job that starts while the metadata service is unreachable
// still runs (the identity never changes). make soak found every such job
// failing with "metadata service unreachable", because each job's engine
// made a new metadata client and read the identity again.
func TestDaemonKeepsIdentity(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(quickScenario()))
	dir := t.TempDir()
	socket := filepath.Join(dir, "ecssnap.sock")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "daemon")
	cmd.Env = append(os.Environ(),
		runCLIEnv+"=1",
		"ECSSNAP_CONFIG="+writeConfig(t, "consistency: crash\n"),
		"ECSSNAP_METADATA_ENDPOINT="+env.IMDSURL,
		"ECSSNAP_API_ENDPOINT="+env.APIURL,
		"ECSSNAP_SOCKET="+socket,
		"ECSSNAP_STATE_DIR="+filepath.Join(dir, "state"),
		"ECSSNAP_FREEZE_JOURNAL="+filepath.Join(dir, "freeze.json"),
		"ALIBABA_CLOUD_ACCESS_KEY_ID="+env.AccessKeyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET="+env.AccessKeySecret,
	)
	cmd.Stderr = &prefixWriter{t: t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	waitHealthy(t, socket)

	client := localapi.NewClient(socket)
	ctx := context.Background()
	for i, outage := range []bool{false, true} {
		if err := env.Emu.SetFaults(ecsemu.Faults{IMDSOutage: outage}); err != nil {
			t.Fatal(err)
		}
		v, err := client.CreateJob(ctx, localapi.CreateJobRequest{Trigger: "manual", Disks: plan.Selection{Kind: "all"},
			Consistency: "crash", Force: true, Wait: localapi.WaitCompleted})
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
		if v.Result == nil || v.Result.Outcome != "succeeded" {
			t.Fatalf("job %d (metadata outage %t): state %s, result %+v, error %q", i, outage, v.State, v.Result, v.Error)
		}
	}
}
