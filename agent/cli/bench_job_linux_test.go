package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/loopfs"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// benchBinEnv names the ecssnap binary the benchmarks run as a process;
// make bench sets it to the bin/ecssnap it built. Unset, this test binary
// stands in for it.
const benchBinEnv = "ECSSNAP_BENCH_BIN"

// benchLatency is the emulator's API answer time where a benchmark's target
// is stated in round trips.
const benchLatency = 50 * time.Millisecond

// benchDisks is how many disks snapshot-now takes in BenchmarkSnapshotNow.
const benchDisks = 4

// BenchmarkSnapshotNow runs `snapshot-now --no-wait --json` as its own
// process against the emulator at 50 ms API latency, and reports the time
// from starting the process to the last create call accepted (to-created-ms;
// target at most 4 round trips + 30 ms = 230 ms; job-to-created-ms is the
// part after the job started) and to its exit (exit-ms).
// "crash" snapshots four ESSD disks without freezing; "fs" (root) freezes
// four ext4 loop filesystems mapped to them, as a real run on an instance
// does, and also reports how long they were frozen.
func BenchmarkSnapshotNow(b *testing.B) {
	b.Run("crash", func(b *testing.B) {
		env, vars := snapshotNowEmulator(b, "")
		benchSnapshotNow(b, env, vars, "--consistency", "crash", "--disks", "all")
	})
	b.Run("fs", func(b *testing.B) {
		testenv.RequireRoot(b)
		if err := loopfs.Available("ext4"); err != nil {
			testenv.Unavailable(b, err.Error())
		}
		dir := b.TempDir()
		args := []string{"--consistency", "fs", "--require", "fs"}
		devmap := "test_device_map_enabled: true\ntest_device_map:\n"
		for i := range benchDisks {
			fs, err := loopfs.Create(context.Background(), "ext4", dir, loopfs.Options{MountPoint: filepath.Join(dir, fmt.Sprintf("fs%d", i))})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { fs.Destroy() })
			devmap += fmt.Sprintf("  %s: %s\n", filepath.Base(fs.Devices[0]), benchDiskID(i))
			args = append(args, "--mount", fs.MountPoint)
		}
		env, vars := snapshotNowEmulator(b, devmap)
		benchSnapshotNow(b, env, vars, args...)
	})
}

// snapshotNowEmulator starts an emulator with benchDisks ESSD data disks at
// benchLatency and returns the environment for ecssnap with config as its
// configuration file.
func snapshotNowEmulator(b *testing.B, config string) (*ecsemutest.Env, []string) {
	return benchEmulator(b, benchDisks, config)
}

// benchQuota is the emulated account's manual snapshot quota per disk:
// benchmarks take many snapshots.
const benchQuota = 65535

// benchEmulator starts an emulator with n ESSD data disks at benchLatency
// and returns the environment for ecssnap, in process (no daemon answers
// on its socket), with config as its configuration file.
func benchEmulator(b *testing.B, n int, config string) (*ecsemutest.Env, []string) {
	sc := ecsemu.DefaultScenario()
	sc.Quota.ManualSnapshotsPerDisk = benchQuota
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(time.Millisecond)}
	sc.Disks = nil
	for i := range n {
		sc.Disks = append(sc.Disks, ecsemu.Disk{ID: benchDiskID(i), Serial: "-", Category: "cloud_essd", Type: "data", SizeGiB: 20})
	}
	env := ecsemutest.Start(b, ecsemutest.WithScenario(sc), ecsemutest.WithFaults(ecsemu.Faults{Latency: benchLatency}),
		ecsemutest.WithLogger(slog.New(slog.DiscardHandler)))
	dir := b.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		b.Fatal(err)
	}
	return env, []string{
		"ECSSNAP_CONFIG=" + cfg,
		"ECSSNAP_METADATA_ENDPOINT=" + env.IMDSURL, "ECSSNAP_API_ENDPOINT=" + env.APIURL,
		// No daemon answers here, so the job runs in the process.
		"ECSSNAP_SOCKET=" + filepath.Join(dir, "ecssnap.sock"),
		"ECSSNAP_STATE_DIR=" + filepath.Join(dir, "state"),
		"ECSSNAP_FREEZE_JOURNAL=" + filepath.Join(dir, "freeze.json"),
		"ALIBABA_CLOUD_ACCESS_KEY_ID=" + env.AccessKeyID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + env.AccessKeySecret,
	}
}

func benchSnapshotNow(b *testing.B, env *ecsemutest.Env, vars []string, args ...string) {
	var toCreated, jobToCreated, exit, held time.Duration
	var calls int64
	b.ResetTimer()
	for range b.N {
		cmd := ecssnapCommand(b, append([]string{"snapshot-now", "--no-wait", "--json"}, args...)...)
		cmd.Env = append(cmd.Env, vars...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		out, err := cmd.Output()
		exit += time.Since(start)
		if err != nil {
			b.Fatalf("snapshot-now: %v\n%s", err, stderr.String())
		}
		var res job.Result
		if err := json.Unmarshal(out, &res); err != nil {
			b.Fatalf("snapshot-now output: %v\n%s", err, out)
		}
		if res.Outcome != "created" || len(res.Snapshots) != benchDisks {
			b.Fatalf("outcome %q with %d snapshots: %s", res.Outcome, len(res.Snapshots), out)
		}
		// Started is the child's wall clock at the start of the job, the
		// same clock as ours.
		created := res.Started.Add(time.Duration(res.Timings.ToCreatedMS) * time.Millisecond)
		toCreated += created.Sub(start)
		jobToCreated += time.Duration(res.Timings.ToCreatedMS) * time.Millisecond
		calls += res.APICalls
		if res.Freeze != nil {
			held += time.Duration(res.Freeze.HeldMS) * time.Millisecond
		}
	}
	b.StopTimer()
	perOp := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(perOp(toCreated), "to-created-ms")
	b.ReportMetric(perOp(jobToCreated), "job-to-created-ms")
	b.ReportMetric(perOp(exit), "exit-ms")
	b.ReportMetric(float64(calls)/float64(b.N), "api-calls/op")
	if held > 0 {
		b.ReportMetric(perOp(held), "held-ms")
	}
}

// ecssnapCommand runs ecssnap as a process, args[0] being the name it is
// invoked by: the binary named by $ECSSNAP_BENCH_BIN, or else this test
// binary acting as it.
func ecssnapCommand(b *testing.B, args ...string) *exec.Cmd {
	if bin := os.Getenv(benchBinEnv); bin != "" {
		cmd := exec.Command(bin, args[1:]...)
		cmd.Args[0] = args[0]
		cmd.Env = os.Environ()
		return cmd
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	rest := args[1:]
	if args[0] == "snapshot-now" {
		rest = append([]string{"now"}, rest...)
	}
	cmd := exec.Command(exe, rest...)
	cmd.Env = append(os.Environ(), runCLIEnv+"=1")
	return cmd
}

// BenchmarkCallsPerJob counts the API calls of one `snapshot-now --wait`
// (crash consistency, through the CLI's own wiring) for N = 1, 4, 16 disks,
// grouped (ESSD: one CreateSnapshotGroup) and per-disk (N CreateSnapshot),
// split into creates, polling rounds while waiting, preflight describes and
// the rest. Every snapshot takes the same time, so waiting for 16 must cost
// as many calls as waiting for one.
func BenchmarkCallsPerJob(b *testing.B) {
	for _, mode := range []struct{ name, category string }{{"grouped", "cloud_essd"}, {"per-disk", "cloud_efficiency"}} {
		for _, n := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/N=%d", mode.name, n), func(b *testing.B) {
				sc := ecsemu.DefaultScenario()
				sc.Quota.ManualSnapshotsPerDisk = 65535
				sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(snapshotTime)}
				sc.Disks = nil
				for i := range n {
					sc.Disks = append(sc.Disks, ecsemu.Disk{ID: benchDiskID(i), Serial: "-", Category: mode.category, Type: "data", SizeGiB: 20})
				}
				env := ecsemutest.Start(b, ecsemutest.WithScenario(sc), ecsemutest.WithLogger(slog.New(slog.DiscardHandler)))
				b.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", env.AccessKeyID)
				b.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", env.AccessKeySecret)
				dir := b.TempDir()
				vars := map[string]string{
					"ECSSNAP_CONFIG":            "/dev/null",
					"ECSSNAP_METADATA_ENDPOINT": env.IMDSURL, "ECSSNAP_API_ENDPOINT": env.APIURL,
					"ECSSNAP_SOCKET":         filepath.Join(dir, "ecssnap.sock"),
					"ECSSNAP_STATE_DIR":      filepath.Join(dir, "state"),
					"ECSSNAP_FREEZE_JOURNAL": filepath.Join(dir, "freeze.json"),
				}
				getenv := func(k string) string {
					if v, ok := vars[k]; ok {
						return v
					}
					return os.Getenv(k)
				}
				var counts [numCallKinds]int
				b.ResetTimer()
				for range b.N {
					env.Emu.ResetCalls()
					var stderr bytes.Buffer
					code := cli.Run(context.Background(), []string{"snapshot-now", "--wait", "--json", "--consistency", "crash", "--disks", "all"},
						cli.Env{Stdout: io.Discard, Stderr: &stderr, Now: time.Now, Getenv: getenv})
					if code != cli.ExitOK {
						b.Fatalf("snapshot-now: exit %d: %s", code, stderr.String())
					}
					for _, c := range env.Emu.Calls() {
						counts[callKindOf(c)]++
					}
				}
				b.StopTimer()
				total := 0
				for kind, n := range counts {
					b.ReportMetric(float64(n)/float64(b.N), callKindNames[kind]+"-calls/job")
					total += n
				}
				b.ReportMetric(float64(total)/float64(b.N), "calls/job")
			})
		}
	}
}

// The kinds of API calls a job makes, told apart by action and parameters.
const (
	callCreate    = iota // CreateSnapshot, CreateSnapshotGroup
	callWait             // a polling round: DescribeSnapshots by snapshot ID
	callPreflight        // DescribeSnapshots by disk (quota) or instance (running)
	callOther            // DescribeDisks, DescribeSnapshotGroups, TagResources, ...
	numCallKinds
)

var callKindNames = [numCallKinds]string{"create", "wait", "preflight", "other"}

func callKindOf(c ecsemu.Call) int {
	switch {
	case strings.HasPrefix(c.Action, "Create"):
		return callCreate
	case c.Action == "DescribeSnapshots" && c.Params["SnapshotIds"] != "":
		return callWait
	case c.Action == "DescribeSnapshots":
		return callPreflight
	}
	return callOther
}

// snapshotTime is how long every snapshot takes in BenchmarkCallsPerJob:
// several polling rounds, ending well between two of them.
const snapshotTime = 2 * time.Second

func benchDiskID(i int) string { return fmt.Sprintf("d-bp1bench%010d", i) }
