package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
)

// BenchmarkToCreated runs `snapshot-now --no-wait --json --consistency
// crash` as its own process, as a hook or an operator does, against N = 1,
// 4, 16 ESSD disks (one group call) at 50 ms API latency, in process (no
// daemon) and through a running daemon, and reports:
//   - to-created-ms: from starting the process to the last create accepted
//     (targets: in process 2L + 15 = 115 ms, daemon L + 10 = 60 ms);
//   - exit-ms: the caller's wall time, binary start included (targets: in
//     process 2L + 40 = 140 ms, daemon L + 25 = 75 ms);
//   - calls/job: every API call of the job, its bookkeeping after the
//     answer included (through the daemon the job is followed to its end
//     between iterations, untimed);
//   - warm-view: the fraction of jobs that planned from the daemon's view.
func BenchmarkToCreated(b *testing.B) {
	for _, path := range []string{"in-process", "daemon"} {
		for _, n := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/N=%d", path, n), func(b *testing.B) {
				env, vars := toCreatedEmulator(b, n)
				var client *localapi.Client
				if path == "daemon" {
					client = startBenchDaemon(b, vars)
				}
				benchToCreated(b, env, vars, client, n)
			})
		}
	}
}

func toCreatedEmulator(b *testing.B, n int) (*ecsemutest.Env, []string) {
	sc := ecsemu.DefaultScenario()
	sc.Quota.ManualSnapshotsPerDisk = 65535
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(time.Millisecond)}
	sc.Disks = nil
	for i := range n {
		sc.Disks = append(sc.Disks, ecsemu.Disk{ID: benchDiskID(i), Serial: "-", Category: "cloud_essd", Type: "data", SizeGiB: 20})
	}
	env := ecsemutest.Start(b, ecsemutest.WithScenario(sc), ecsemutest.WithFaults(ecsemu.Faults{Latency: benchLatency}),
		ecsemutest.WithLogger(slog.New(slog.DiscardHandler)))
	dir := b.TempDir()
	return env, []string{
		"ECSSNAP_CONFIG=/dev/null",
		"ECSSNAP_METADATA_ENDPOINT=" + env.IMDSURL, "ECSSNAP_API_ENDPOINT=" + env.APIURL,
		"ECSSNAP_SOCKET=" + filepath.Join(dir, "ecssnap.sock"),
		"ECSSNAP_STATE_DIR=" + filepath.Join(dir, "state"),
		"ECSSNAP_FREEZE_JOURNAL=" + filepath.Join(dir, "freeze.json"),
		"ALIBABA_CLOUD_ACCESS_KEY_ID=" + env.AccessKeyID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + env.AccessKeySecret,
	}
}

// startBenchDaemon starts the benchmarked binary's daemon and returns a
// client of its socket once it answers and its disk view is warm.
func startBenchDaemon(b *testing.B, vars []string) *localapi.Client {
	cmd := ecssnapCommand(b, "ecssnap", "daemon")
	cmd.Env = append(cmd.Env, vars...)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	var socket string
	for _, v := range vars {
		if k, val, _ := strings.Cut(v, "="); k == "ECSSNAP_SOCKET" {
			socket = val
		}
	}
	c := localapi.NewClient(socket)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := c.Health(context.Background()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("daemon did not start: %s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the view's first read
	return c
}

func benchToCreated(b *testing.B, env *ecsemutest.Env, vars []string, client *localapi.Client, n int) {
	var toCreated, exit time.Duration
	var calls, warm int
	b.ResetTimer()
	for range b.N {
		env.Emu.ResetCalls()
		cmd := ecssnapCommand(b, "snapshot-now", "--no-wait", "--json", "--consistency", "crash", "--disks", "all")
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
		if res.Outcome != "created" || len(res.Snapshots) != n {
			b.Fatalf("outcome %q with %d snapshots: %s", res.Outcome, len(res.Snapshots), out)
		}
		toCreated += res.Started.Add(time.Duration(res.Timings.ToCreatedMS) * time.Millisecond).Sub(start)
		if res.WarmView {
			warm++
		}
		b.StopTimer()
		if client != nil {
			waitJobDone(b, client, res.JobID)
			// After a job the daemon's worker applies retention (two
			// calls) before it takes the next job: let it, so each
			// iteration measures a job that finds the daemon idle, as a
			// package manager's first hook of a session does.
			time.Sleep(afterJobSettle)
		} else {
			waitRecordDone(b, vars, res.JobID)
		}
		calls += len(env.Emu.Calls())
		b.StartTimer()
	}
	b.StopTimer()
	perOp := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(perOp(toCreated), "to-created-ms")
	b.ReportMetric(perOp(exit), "exit-ms")
	b.ReportMetric(float64(calls)/float64(b.N), "calls/job")
	b.ReportMetric(float64(warm)/float64(b.N), "warm-view")
}

// afterJobSettle is how long the daemon is left after a job's end.
const afterJobSettle = 400 * time.Millisecond

// waitJobDone follows a daemon's job to its end (its bookkeeping after the
// caller's answer), so the next iteration does not queue behind it.
func waitJobDone(b *testing.B, c *localapi.Client, id string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		v, err := c.GetJob(context.Background(), id)
		if err != nil {
			b.Fatal(err)
		}
		if v.State == "done" {
			if v.Result != nil && v.Result.GroupID != "" {
				for _, s := range v.Result.Snapshots {
					if s.SnapshotID == "" {
						b.Fatalf("job %s ended without learning the member snapshot of %s", id, s.DiskID)
					}
				}
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatalf("job %s did not end", id)
}

// waitRecordDone waits until the in-process job's record is done: the
// process it handed its bookkeeping to has finished, so the next
// iteration does not wait for the store.
func waitRecordDone(b *testing.B, vars []string, id string) {
	var dir string
	for _, v := range vars {
		if k, val, _ := strings.Cut(v, "="); k == "ECSSNAP_STATE_DIR" {
			dir = val
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(filepath.Join(dir, "jobs", id+".json"))
		if err == nil {
			var rec struct {
				State string `json:"state"`
			}
			if json.Unmarshal(data, &rec) == nil && rec.State == "done" {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatalf("job %s was not finished", id)
}
