package hooks

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/testenv"
)

func writeScript(t *testing.T, dir, name, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
	return p
}

func TestRunOrderEnvAndPhase(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(t.TempDir(), "log")
	body := `echo "$(basename "$0") $1 $ECSSNAP_PHASE $ECSSNAP_JOB $ECSSNAP_TRIGGER [$ECSSNAP_DISKS]" >>` + log + "\n"
	writeScript(t, dir, "20-second", body, 0o755)
	writeScript(t, dir, "10-first", body, 0o755)
	writeScript(t, dir, "10-first.dpkg-old", body, 0o755)
	writeScript(t, dir, "30-backup~", body, 0o755)
	writeScript(t, dir, "40-new.rpmnew", body, 0o755)
	writeScript(t, dir, ".hidden", body, 0o755)

	r := &Runner{Dir: dir, OwnerUID: os.Getuid()}
	rep := r.Run(context.Background(), PreFreeze, Env{Job: "j-1", Trigger: "apt", Disks: []string{"d-a", "d-b"}})
	if rep.Failed() {
		t.Fatalf("report failed: %+v", rep)
	}
	got, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	want := "10-first pre-freeze pre-freeze j-1 apt [d-a d-b]\n20-second pre-freeze pre-freeze j-1 apt [d-a d-b]\n"
	if string(got) != want {
		t.Errorf("ran:\n%s\nwant:\n%s", got, want)
	}
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "10-group-writable", "exit 0\n", 0o775)
	writeScript(t, dir, "20-not-executable", "exit 0\n", 0o644)
	writeScript(t, dir, "30-ok", "exit 0\n", 0o750)
	if err := os.Mkdir(filepath.Join(dir, "40-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "missing"), filepath.Join(dir, "50-dangling")); err != nil {
		t.Fatal(err)
	}
	r := &Runner{Dir: dir, OwnerUID: os.Getuid()}
	scripts, refused, err := r.Discover()
	if err != nil {
		t.Fatal(err)
	}
	if len(scripts) != 1 || scripts[0].Name != "30-ok" {
		t.Errorf("scripts = %v", scripts)
	}
	reasons := map[string]string{}
	for _, x := range refused {
		reasons[x.Name] = x.Reason
	}
	for name, want := range map[string]string{
		"10-group-writable": "writable by group or others", "20-not-executable": "not executable",
		"40-dir": "not a regular file", "50-dangling": "dangling",
	} {
		if !strings.Contains(reasons[name], want) {
			t.Errorf("%s: reason %q, want %q", name, reasons[name], want)
		}
	}
	rep := r.Run(context.Background(), PostThaw, Env{})
	if !rep.Failed() || !strings.Contains(rep.Err().Error(), "10-group-writable refused (writable by group or others") {
		t.Errorf("refused scripts must fail the phase: %v", rep.Err())
	}
}

func TestRefusesScriptNotOwnedByRoot(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	p := writeScript(t, dir, "10-nobody", "exit 0\n", 0o755)
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, refused, err := (&Runner{Dir: dir}).Discover()
	if err != nil || len(refused) != 1 || !strings.Contains(refused[0].Reason, "not owned by uid 0") {
		t.Errorf("refused = %+v, err %v", refused, err)
	}
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	writeScript(t, dir, "10-hang", "sleep 300 &\necho $! >"+pidFile+"\necho started\nwait\n", 0o755)
	writeScript(t, dir, "20-after", "echo after\n", 0o755)
	r := &Runner{Dir: dir, OwnerUID: os.Getuid(), ScriptTimeout: 300 * time.Millisecond}
	start := time.Now()
	rep := r.Run(context.Background(), PreFreeze, Env{})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a hung hook held the job for %v", d)
	}
	if len(rep.Results) != 2 || !rep.Results[0].TimedOut || rep.Results[1].ExitCode != 0 {
		t.Fatalf("results = %+v", rep.Results)
	}
	if !strings.Contains(rep.Results[0].Output, "started") || !strings.Contains(rep.Err().Error(), "10-hang timed out") {
		t.Errorf("output %q, err %v", rep.Results[0].Output, rep.Err())
	}
	pid, _ := os.ReadFile(pidFile)
	// The script's background child died with its group.
	deadline := time.Now().Add(3 * time.Second)
	for {
		if _, err := os.Stat("/proc/" + strings.TrimSpace(string(pid))); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %s of a timed-out hook still runs", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFailuresDoNotStopLaterScripts(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "10-fail", "echo oops >&2; exit 3\n", 0o755)
	writeScript(t, dir, "20-ok", "exit 0\n", 0o755)
	rep := (&Runner{Dir: dir, OwnerUID: os.Getuid()}).Run(context.Background(), OnFailure, Env{})
	names := []string{}
	for _, r := range rep.Results {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"10-fail", "20-ok"}) || rep.Results[0].ExitCode != 3 || !strings.Contains(rep.Results[0].Output, "oops") {
		t.Errorf("results = %+v", rep.Results)
	}
	if err := rep.Err(); err == nil || err.Error() != "on-failure hooks failed: 10-fail exited 3" {
		t.Errorf("err = %v", err)
	}
}

func TestMissingDirectoryMeansNoHooks(t *testing.T) {
	rep := (&Runner{Dir: filepath.Join(t.TempDir(), "absent")}).Run(context.Background(), PreFreeze, Env{})
	if rep.Failed() || len(rep.Results) != 0 {
		t.Errorf("report = %+v", rep)
	}
}

func TestOutputIsBounded(t *testing.T) {
	var b tailBuffer
	for range 100 {
		b.Write([]byte(strings.Repeat("x", 1000)))
	}
	b.Write([]byte("END"))
	if s := b.String(); len(s) != maxOutput || !strings.HasSuffix(s, "END") {
		t.Errorf("kept %d bytes, suffix %q", len(s), s[len(s)-3:])
	}
}
