package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/plan"
	"github.com/ecssnap/ecssnap/pkg/store"
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
//
// in-process-history/N=4 is the in-process path on a machine with a long
// job history: 1000 finished jobs recorded, as many as the store keeps.
func BenchmarkToCreated(b *testing.B) {
	for _, path := range []string{"in-process", "daemon", "in-process-history"} {
		for _, n := range []int{1, 4, 16} {
			if path == "in-process-history" && n != 4 {
				continue
			}
			b.Run(fmt.Sprintf("%s/N=%d", path, n), func(b *testing.B) {
				env, vars := toCreatedEmulator(b, n)
				var client *localapi.Client
				switch path {
				case "daemon":
					client = startBenchDaemon(b, vars)
				case "in-process-history":
					recordHistory(b, envValue(vars, "ECSSNAP_STATE_DIR"), 1000, n)
				}
				benchToCreated(b, env, vars, client, n)
			})
		}
	}
}

// recordHistory records jobs finished jobs of n snapshots each in the
// store at dir, a day and more ago, one an hour.
func recordHistory(b *testing.B, dir string, jobs, n int) {
	at := time.Now().Add(-time.Duration(jobs+24) * time.Hour)
	st, err := store.Open(dir, store.Options{Now: func() time.Time { at = at.Add(time.Hour); return at }})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for i := range jobs {
		id := fmt.Sprintf("j-%s-%08x", at.Add(time.Hour).UTC().Format("20060102-150405"), i)
		res := &job.Result{JobID: id, InstanceID: "i-bench", GroupID: "ssg-bench", Outcome: "created", Consistency: "crash"}
		for d := range n {
			res.Snapshots = append(res.Snapshots, job.SnapshotResult{DiskID: benchDiskID(d), Method: "group",
				SnapshotID: fmt.Sprintf("s-bench%04d%02d", i, d), State: job.StateCreated})
		}
		rec := &store.Record{ID: id, State: store.StateDone, Result: res,
			Request: store.RequestFromJob(job.Request{Trigger: "apt", Reason: "apt-get upgrade", Disks: plan.Selection{Kind: "all"}})}
		if err := st.Save(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// envValue is the value of key in vars ("KEY=VALUE" pairs).
func envValue(vars []string, key string) string {
	for _, v := range vars {
		if k, val, _ := strings.Cut(v, "="); k == key {
			return val
		}
	}
	return ""
}

// toCreatedEmulator is snapshotNowEmulator with n disks. The agent knows
// the account's quota, as its operator would set it: under the default
// 256 a run of 16 jobs of 16 disks would leave the one-call count unable
// to rule out a full disk, and every later job would count per disk after
// DescribeDisks (one more round trip).
func toCreatedEmulator(b *testing.B, n int) (*ecsemutest.Env, []string) {
	return benchEmulator(b, n, fmt.Sprintf("quota_per_disk: %d\n", benchQuota))
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
	c := localapi.NewClient(envValue(vars, "ECSSNAP_SOCKET"))
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
			// Let the daemon settle after a job, so that each iteration
			// measures a job that finds it idle, as a package manager's
			// first hook of a session does (retention waits for a longer
			// idle queue than this, and gives way to a job).
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

// waitRecordDone waits until the in-process job's record is done and the
// process it handed its bookkeeping to has let go of the store (it may
// still write after the record says done), so that the next iteration
// does not wait for the store and the last one's directory can be removed.
func waitRecordDone(b *testing.B, vars []string, id string) {
	dir := envValue(vars, "ECSSNAP_STATE_DIR")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(filepath.Join(dir, "jobs", id+".json"))
		if err == nil {
			var rec struct {
				State string `json:"state"`
			}
			if json.Unmarshal(data, &rec) == nil && rec.State == "done" {
				st, err := store.OpenWait(context.Background(), dir, store.Options{}, time.Until(deadline), nil)
				if err != nil {
					b.Fatalf("job %s: %v", id, err)
				}
				st.Close()
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatalf("job %s was not finished", id)
}
