package cli_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/localapi"
)

// BenchmarkDaemon starts the daemon as its own process and reports its
// resident memory and wakeups (voluntary context switches) while idle, the
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

	// Idle: settle, then count wakeups over a window; once, on the final
	// round (the benchmark framework first calls this with b.N = 1).
	if b.N == 1 {
		return
	}
	time.Sleep(2 * time.Second)
	pid := cmd.Process.Pid
	before := procStatus(b, pid)
	window := 20 * time.Second
	if testing.Short() {
		window = 5 * time.Second
	}
	time.Sleep(window)
	after := procStatus(b, pid)
	b.ReportMetric(float64(after["VmRSS"])/1024, "idle-rss-MB")
	// A thread that wakes and sleeps again switches out voluntarily once;
	// involuntary switches are preemptions of work already awake, which
	// other load on the machine multiplies.
	switches := after["voluntary_ctxt_switches"] - before["voluntary_ctxt_switches"]
	b.ReportMetric(float64(switches)/window.Minutes(), "idle-wakeups/min")
	if fi, err := os.Stat(cmd.Path); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "binary-MB")
	}
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
