package cli_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/loopfs/loopfstest"
	"github.com/ecssnap/ecssnap/pkg/plan"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// killTrials is how many times the daemon is killed: 50 under CI, 5
// otherwise, or ECSSNAP_KILL_TRIALS (and ECSSNAP_KILL_BIN runs a built
// binary as the daemon).
func killTrials() int {
	if n, err := strconv.Atoi(os.Getenv("ECSSNAP_KILL_TRIALS")); err == nil && n > 0 {
		return n
	}
	if testenv.InCI() {
		return 50
	}
	return 5
}

// TestDaemonSIGKILL kills the daemon at a random instant of a job that
// freezes two loop filesystems, with a third of the create responses cut,
// then starts it again. Afterwards every job is recorded as done, no job
// made a snapshot twice, and nothing stayed frozen.
func TestDaemonSIGKILL(t *testing.T) {
	fss := loopfstest.Ext4(t, 2)
	ctx := context.Background()
	dir := t.TempDir()
	disks := []string{"d-bp1killtest00000001", "d-bp1killtest00000002"}
	sc := ecsemu.DefaultScenario()
	sc.Quota.ManualSnapshotsPerDisk = 65535
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(100 * time.Millisecond)}
	sc.Disks = []ecsemu.Disk{
		{ID: disks[0], Serial: "-", Category: "cloud_essd", Type: "data", SizeGiB: 20},
		{ID: disks[1], Serial: "-", Category: "cloud_essd", Type: "data", SizeGiB: 20},
	}
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc),
		ecsemutest.WithFaults(ecsemu.Faults{DropRate: 0.3, Actions: []string{"CreateSnapshot", "CreateSnapshotGroup"}}))

	config := fmt.Sprintf("consistency: fs\nfreeze: {deadline: 2s}\ntest_device_map_enabled: true\ntest_device_map:\n  %s: %s\n  %s: %s\napi: {retry_budget: 20s}\n",
		filepath.Base(fss[0].Devices[0]), disks[0], filepath.Base(fss[1].Devices[0]), disks[1])
	socket := filepath.Join(dir, "ecssnap.sock")
	vars := []string{
		runCLIEnv + "=1",
		"ECSSNAP_CONFIG=" + writeConfig(t, config),
		"ECSSNAP_METADATA_ENDPOINT=" + env.IMDSURL,
		"ECSSNAP_API_ENDPOINT=" + env.APIURL,
		"ECSSNAP_SOCKET=" + socket,
		"ECSSNAP_STATE_DIR=" + filepath.Join(dir, "state"),
		"ECSSNAP_FREEZE_JOURNAL=" + filepath.Join(dir, "freeze.json"),
		"ALIBABA_CLOUD_ACCESS_KEY_ID=" + env.AccessKeyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + env.AccessKeySecret,
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// ECSSNAP_KILL_BIN kills a built binary (bin/ecssnap) instead of
	// this test binary acting as the CLI: the figures of the product.
	if bin := os.Getenv("ECSSNAP_KILL_BIN"); bin != "" {
		exe = bin
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(exe, "daemon")
		cmd.Env = append(os.Environ(), vars...)
		cmd.Stderr = &prefixWriter{t: t}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitHealthy(t, socket)
		return cmd
	}
	client := localapi.NewClient(socket)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var ids []string
	for trial := range killTrials() {
		daemon := start()
		v, err := client.CreateJob(ctx, localapi.CreateJobRequest{Trigger: "manual", Disks: plan.Selection{Kind: "all"},
			Complete: true, Force: true, Reason: fmt.Sprintf("kill trial %d", trial)})
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		ids = append(ids, v.ID)
		time.Sleep(time.Duration(rng.Int64N(int64(400 * time.Millisecond))))
		daemon.Process.Signal(syscall.SIGKILL)
		daemon.Wait()
		killed := time.Now()
		for _, fs := range fss {
			assertThawed(t, fs.MountPoint, killed.Add(2*time.Second+time.Second))
		}
		// The next daemon reconciles the job to its end.
		daemon = start()
		waitDone(t, client, v.ID)
		daemon.Process.Signal(syscall.SIGTERM)
		daemon.Wait()
	}

	// Every job recorded and done; no snapshot made twice.
	daemon := start()
	defer func() { daemon.Process.Signal(syscall.SIGTERM); daemon.Wait() }()
	fresh := map[string]int{}
	for _, c := range env.Emu.Calls() {
		if strings.HasPrefix(c.Action, "Create") && c.Committed && !c.Replayed {
			fresh[jobTag(c.Params)]++
		}
	}
	resumed, outcomes := 0, map[string]int{}
	for _, id := range ids {
		v, err := client.GetJob(ctx, id)
		if err != nil {
			t.Errorf("job %s lost: %v", id, err)
			continue
		}
		if v.State != "done" || v.Result == nil {
			t.Errorf("job %s: state %s", id, v.State)
			continue
		}
		outcomes[v.Result.Outcome]++
		if v.Result.Resumed {
			resumed++
		}
		if fresh[id] > 1 {
			t.Errorf("job %s made %d snapshot groups; want at most 1", id, fresh[id])
		}
		if (v.Result.Outcome == "succeeded" || v.Result.Outcome == "degraded") && fresh[id] != 1 {
			t.Errorf("job %s succeeded with %d creates", id, fresh[id])
		}
	}
	t.Logf("%d kills: %d jobs resumed by the next daemon, outcomes %v", len(ids), resumed, outcomes)
	if len(ids) >= 20 && resumed == 0 {
		t.Error("no kill hit a job after its creates were recorded: the test proves little")
	}
}

func jobTag(p map[string]string) string {
	for i := 1; i <= 20; i++ {
		if p["Tag."+strconv.Itoa(i)+".Key"] == job.TagJob {
			return p["Tag."+strconv.Itoa(i)+".Value"]
		}
	}
	return ""
}

// assertThawed writes to the filesystem and fails if the write has not
// completed by the deadline (a frozen filesystem blocks writers).
func assertThawed(t *testing.T, mp string, deadline time.Time) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- os.WriteFile(filepath.Join(mp, "probe"), []byte("x"), 0o644) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("write to %s: %v", mp, err)
		}
	case <-time.After(time.Until(deadline)):
		t.Fatalf("%s still frozen after the deadline + 1 s", mp)
	}
}

func waitHealthy(t *testing.T, socket string) {
	t.Helper()
	client := localapi.NewClient(socket)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := client.Health(context.Background()); err == nil {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("daemon did not answer: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitDone(t *testing.T, client *localapi.Client, id string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		v, err := client.GetJob(context.Background(), id)
		if err != nil && !errors.Is(err, localapi.ErrNotFound) {
			t.Fatalf("job %s: %v", id, err)
		}
		if err == nil && v.State == "done" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s not done after restart", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// prefixWriter sends a child's log to the test log.
type prefixWriter struct{ t *testing.T }

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.t.Logf("daemon: %s", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
