package emucli

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
)

// TestEnvSettings: --env prints the settings as shell a POSIX shell can
// eval, with everything ecssnap needs, its state in the work directory,
// which goes when the emulator stops.
func TestEnvSettings(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"--demo", "--env"}, pw, io.Discard)
		pw.Close()
	}()
	// The settings end with ECSSNAP_EMU_PID's line.
	var out strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(out.String(), "ECSSNAP_EMU_PID=") {
		n, err := pr.Read(buf)
		if err != nil {
			t.Fatalf("settings %q: %v", out.String(), err)
		}
		out.Write(buf[:n])
	}
	go io.Copy(io.Discard, pr)

	// What a shell makes of them.
	sh := exec.Command("sh", "-c", `eval "$(cat)" && env`)
	sh.Stdin = strings.NewReader(out.String())
	sh.Env = []string{"PATH=" + os.Getenv("PATH")}
	envOut, err := sh.Output()
	if err != nil {
		t.Fatalf("sh could not eval the settings: %v\n%s", err, out.String())
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(envOut), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = v
		}
	}
	for k, re := range map[string]string{
		"ECSSNAP_METADATA_ENDPOINT":           `^http://127\.0\.0\.1:\d+$`,
		"ECSSNAP_API_ENDPOINT":                `^http://127\.0\.0\.1:\d+$`,
		"ALIBABA_CLOUD_ACCESS_KEY_ID":         "^" + ecsemu.DefaultAccessKeyID + "$",
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET":     "^" + ecsemu.DefaultAccessKeySecret + "$",
		"ALIBABA_CLOUD_ECS_METADATA_DISABLED": "^true$",
		"ECSSNAP_CONFIG":                      "^/dev/null$",
		"ECSSNAP_STATE_DIR":                   `/ecssnap-emu-\d+/state$`,
		"ECSSNAP_SOCKET":                      `/ecssnap-emu-\d+/ecssnap\.sock$`,
		"ECSSNAP_FREEZE_JOURNAL":              `/ecssnap-emu-\d+/freeze\.json$`,
		"ECSSNAP_HOOKS_DIR":                   `/ecssnap-emu-\d+/hooks\.d$`,
		"ECSSNAP_EMU_PID":                     "^" + strconv.Itoa(os.Getpid()) + "$",
	} {
		if !regexp.MustCompile(re).MatchString(got[k]) {
			t.Errorf("%s=%q, want it to match %s", k, got[k], re)
		}
	}
	work := filepath.Dir(got["ECSSNAP_STATE_DIR"])
	if _, err := os.Stat(work); err != nil {
		t.Errorf("work directory: %v", err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d", code)
	}
	if _, err := os.Stat(work); !os.IsNotExist(err) {
		t.Errorf("the work directory %s outlived the emulator: %v", work, err)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:80": "http://127.0.0.1:80",
		"":                    "''",
		"a b":                 "'a b'",
		"it's":                `'it'\''s'`,
		"$HOME":               "'$HOME'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestDemo runs scripts/demo with freshly built binaries, as `make demo`
// does: it succeeds, leaves no emulator running and nothing in the
// temporary directory, and records its job only in the emulator's work
// directory, not in the host's job history.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	bin := t.TempDir()
	for _, cmd := range []string{"ecssnap", "ecssnap-emu"} {
		build := exec.Command("go", "build", "-o", filepath.Join(bin, cmd), "../cmd/"+cmd)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", cmd, err, out)
		}
	}
	if err := os.Symlink("ecssnap", filepath.Join(bin, "snapshot-now")); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	demo := exec.CommandContext(ctx, "../../scripts/demo")
	// Nothing of the caller's ECSSNAP_* or credentials settings.
	demo.Env = []string{"PATH=" + os.Getenv("PATH"), "BIN=" + bin, "TMPDIR=" + tmp, "HOME=" + t.TempDir()}
	out, err := demo.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Job (j-\S+) succeeded`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("the demo's job did not succeed:\n%s", out)
	}
	// The demo waits for the emulator to stop, which takes its work
	// directory along.
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left in TMPDIR after the demo: %v", left)
	}
	// Not in the host's job history (as root, the old demo wrote it there).
	if found, _ := filepath.Glob(filepath.Join("/var/lib/ecssnap/jobs", "*"+string(m[1])+"*")); len(found) > 0 {
		t.Errorf("the demo recorded its job in the host's history: %v", found)
	}
}
