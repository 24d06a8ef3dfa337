package hooks

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// A script sees a fixed PATH and LANG and the ECSSNAP_* variables, never
// the environment of the process that runs it (the daemon's holds the
// cloud credentials); what it prints goes to the log, not into the report
// that the job's record and API view carry.
func TestScriptEnvironmentAndOutput(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s3cr3t-from-the-daemon")
	t.Setenv("LD_PRELOAD", "/tmp/evil.so")
	dir := t.TempDir()
	writeScript(t, dir, "10-env", "env | sort\n", 0o755)
	log := &testenv.LogSink{}
	r := &Runner{Dir: dir, OwnerUID: os.Getuid(), Logger: slog.New(log)}
	rep := r.Run(context.Background(), PostComplete, Env{Job: "j-1", Trigger: "apt", Disks: []string{"d-a"}, Mounts: []string{"/", "/data"}})
	if rep.Failed() {
		t.Fatalf("report failed: %+v", rep)
	}
	out := rep.Results[0].Output
	got := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{"ECSSNAP_DISKS=d-a", "ECSSNAP_JOB=j-1", "ECSSNAP_MOUNTS=/", "/data", "ECSSNAP_PHASE=post-complete",
		"ECSSNAP_TRIGGER=apt", "HOME=/", "LANG=C.UTF-8", "PATH=" + ScriptPath}
	// sh adds PWD (and some add SHLVL, _); nothing else may be there.
	got = slices.DeleteFunc(got, func(l string) bool {
		return strings.HasPrefix(l, "PWD=") || strings.HasPrefix(l, "SHLVL=") || strings.HasPrefix(l, "_=") || strings.HasPrefix(l, "OLDPWD=")
	})
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("script environment:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "ECSSNAP_JOB") || strings.Contains(string(data), "output") {
		t.Errorf("the report carries the script's output: %s", data)
	}
	if len(log.Find("hook ran", "10-env", "ECSSNAP_TRIGGER=apt")) != 1 {
		t.Errorf("the script's output is not in the log:\n%s", log)
	}
}
