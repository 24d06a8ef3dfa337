package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/agent/cli"
)

// cliLibPackages are the packages the command-line library brings in:
// cobra, pflag and text/template, which only cobra's help imports here.
var cliLibPackages = []string{"github.com/spf13/", "text/template"}

// BenchmarkStart measures what the command-line library (cobra) adds to
// every start of ecssnap, which every package-manager hook pays: the
// init time of its packages (GODEBUG=inittrace=1 of the built binary)
// plus building the command tree and parsing `--version` in process.
// Target: at most 2 ms ("cli-lib-ms"). It also reports the whole
// `ecssnap --version` exec ("exec-ms"), most of which is the process and
// the runtime starting, with or without the library.
func BenchmarkStart(b *testing.B) {
	bin := os.Getenv(benchBinEnv)
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "ecssnap")
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "../cmd/ecssnap")
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("go build: %v\n%s", err, out)
		}
	}
	env := cli.Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
	var initTotal, treeTotal, execTotal time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if code := cli.Run(context.Background(), []string{"ecssnap", "--version"}, env); code != 0 {
			b.Fatalf("ecssnap --version in process: exit %d", code)
		}
		treeTotal += time.Since(start)

		cmd := exec.Command(bin, "--version")
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start = time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("%s --version: %v", bin, err)
		}
		execTotal += time.Since(start)
		d, err := libInit(&stderr)
		if err != nil {
			b.Fatal(err)
		}
		initTotal += d
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) / 1000 }
	b.ReportMetric(per(initTotal), "lib-init-ms")
	b.ReportMetric(per(treeTotal), "tree-ms")
	b.ReportMetric(per(initTotal+treeTotal), "cli-lib-ms")
	b.ReportMetric(per(execTotal), "exec-ms")
}

// libInit sums the init clock times inittrace reports for the library's
// packages ("init PKG @T ms, D ms clock, ...").
func libInit(trace io.Reader) (time.Duration, error) {
	var total time.Duration
	sc := bufio.NewScanner(trace)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 7 || f[0] != "init" || f[6] != "clock," {
			continue
		}
		lib := false
		for _, p := range cliLibPackages {
			lib = lib || strings.HasPrefix(f[1], p)
		}
		if !lib {
			continue
		}
		ms, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			return 0, err
		}
		total += time.Duration(ms * float64(time.Millisecond))
	}
	return total, sc.Err()
}
