package cli_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// BenchmarkDaemon starts the daemon as its own process and reports its
// resident memory and wakeups (voluntary context switches) while idle after
// a job (the window is 5 minutes after a 30 s settle by default; see
// idleWindowEnv), with the forced GC cycles and kernel notices in it, the
// size of the binary it ran (see ecssnapCommand), and the time from a new
// CLI client's dial to the daemon's first answer. Targets: RSS at most 20 MB,
// nothing periodic more often than once a minute, first answer within
// 20 ms.
func BenchmarkDaemon(b *testing.B) {
	env := ecsemutest.Start(b)
	dir := b.TempDir()
	socket := filepath.Join(dir, "ecssnap.sock")
	// The binary make bench built when it says so, else this test binary.
	cmd := ecssnapCommand(b, "ecssnap", "daemon")
	cmd.Env = append(cmd.Env, "ECSSNAP_CONFIG=/dev/null",
		"ECSSNAP_METADATA_ENDPOINT="+env.IMDSURL, "ECSSNAP_API_ENDPOINT="+env.APIURL,
		"ECSSNAP_SOCKET="+socket, "ECSSNAP_STATE_DIR="+filepath.Join(dir, "state"),
		"ECSSNAP_FREEZE_JOURNAL="+filepath.Join(dir, "freeze.json"))
	cmd.Env = append(cmd.Env, "GODEBUG=gctrace=1", "ECSSNAP_LOG_LEVEL=debug",
		"ALIBABA_CLOUD_ACCESS_KEY_ID="+env.AccessKeyID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET="+env.AccessKeySecret)
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := localapi.NewClient(socket).Health(context.Background()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("daemon did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}

	b.ResetTimer()
	var first time.Duration
	for range b.N {
		c := localapi.NewClient(socket) // a new CLI: a new connection each time
		start := time.Now()
		if _, err := c.Health(context.Background()); err != nil {
			b.Fatal(err)
		}
		first += time.Since(start)
		c.CloseIdleConnections()
	}
	b.StopTimer()
	b.ReportMetric(float64(first.Microseconds())/float64(b.N)/1000, "first-answer-ms")

	// Idle: one job (so the idle daemon holds what a working one holds:
	// its kept client, connection and disk view), a settle, then wakeups
	// counted over the window; once, on the final round (the benchmark
	// framework first calls this with b.N = 1).
	if b.N == 1 {
		return
	}
	if _, err := localapi.NewClient(socket).CreateJob(context.Background(), localapi.CreateJobRequest{
		Consistency: "crash", Disks: plan.Selection{Kind: "all"}, Wait: localapi.WaitCreated, Force: true,
	}); err != nil {
		b.Fatalf("a job before the idle window: %v", err)
	}
	settle, window := benchDuration(b, idleSettleEnv, 30*time.Second), benchDuration(b, idleWindowEnv, 5*time.Minute)
	if testing.Short() {
		settle, window = 2*time.Second, 5*time.Second
	}
	time.Sleep(settle)
	pid := cmd.Process.Pid
	logStart := len(logs.String())
	before := procStatus(b, pid)
	time.Sleep(window)
	after := procStatus(b, pid)
	idleLog := logs.String()[logStart:]
	b.ReportMetric(float64(after["VmRSS"])/1024, "idle-rss-MB")
	// A thread that wakes and sleeps again switches out voluntarily once;
	// involuntary switches are preemptions of work already awake, which
	// other load on the machine multiplies.
	switches := after["voluntary_ctxt_switches"] - before["voluntary_ctxt_switches"]
	b.ReportMetric(float64(switches)/window.Minutes(), "idle-wakeups/min")
	// What woke it: the Go runtime's forced collections (every 2 minutes;
	// GODEBUG=gctrace=1 prints one line per cycle) and the kernel's
	// notices (block uevents, mount changes: on a shared test machine,
	// other people's loop devices and mounts).
	// Every collection of an idle daemon is the periodic one (gctrace
	// marks only runtime.GC calls "(forced)"): count them all.
	b.ReportMetric(float64(len(gcTraceLine.FindAllStringIndex(idleLog, -1)))/window.Minutes(), "forced-gc/min")
	b.ReportMetric(float64(strings.Count(idleLog, "kernel notice"))/window.Minutes(), "notices/min")
	b.ReportMetric(window.Seconds(), "idle-window-s")
	if fi, err := os.Stat(cmd.Path); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "binary-MB")
	}
}

// gcTraceLine is one line of GODEBUG=gctrace=1: one collection.
var gcTraceLine = regexp.MustCompile(`(?m)^gc \d+ @`)

// The idle window's settle and length: 30 s and 5 minutes unless these
// name other durations (a quick run: ECSSNAP_BENCH_IDLE=20s).
const (
	idleSettleEnv = "ECSSNAP_BENCH_IDLE_SETTLE"
	idleWindowEnv = "ECSSNAP_BENCH_IDLE"
)

func benchDuration(b *testing.B, env string, def time.Duration) time.Duration {
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q is not a duration", env, v)
	}
	return d
}

// procStatus reads the numeric fields of /proc/<pid>/status (kB for sizes)
// summed over the process's threads where they are per thread.
func procStatus(b *testing.B, pid int) map[string]int64 {
	out := map[string]int64{}
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/status")
	for i, path := range tasks {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(strings.Fields(v + " x")[0], 10, 64)
			if err != nil {
				continue
			}
			if strings.HasSuffix(k, "ctxt_switches") {
				out[k] += n
			} else if i == 0 {
				out[k] = n
			}
		}
		f.Close()
	}
	if len(out) == 0 {
		b.Fatalf("no /proc status for pid %d", pid)
	}
	return out
}
