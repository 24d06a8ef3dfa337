package cli_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// TestUsageErrorsGolden: a bad command line is refused in one line that
// names the flag as typed and where the flags are listed, exit 64, before
// the configuration is read.
func TestUsageErrorsGolden(t *testing.T) {
	h := &harness{t: t, vars: map[string]string{"ECSSNAP_CONFIG": "/nonexistent/config.yaml"}}
	lines := [][]string{
		{"ecssnap", "now", "--bogus"},
		{"ecssnap", "show", "--bogus", "j-1"},
		{"ecssnap", "now", "--timeout", "banana"},
		{"ecssnap", "now", "--timeout", "-5m"},
		{"ecssnap", "now", "--retention-days", "0"},
		{"ecssnap", "now", "--retention-days", "-1"},
		{"ecssnap", "now", "--retention-days", "70000"},
		{"ecssnap", "now", "--retention-days", "0x"},
		{"ecssnap", "now", "extra"},
		{"ecssnap", "list", "--limit", "0"},
		{"ecssnap", "show"},
		{"ecssnap", "show", "--json"},
		{"ecssnap", "nwo"},
		{"ecssnap", "service"},
		{"ecssnap", "completion", "tcsh"},
		{"snapshot-now", "--bogus"},
		{"snapshot-now", "--json=maybe"},
	}
	var b strings.Builder
	for _, args := range lines {
		code, stdout, stderr := h.run(args...)
		fmt.Fprintf(&b, "$ %s\nexit %d\n%s%s\n", strings.Join(args, " "), code, stdout, stderr)
		if code != cli.ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, cli.ExitUsage)
		}
		if n := strings.Count(stderr, "\n"); n != 1 || stdout != "" {
			t.Errorf("%v: want one line on stderr, got stdout %q stderr %q", args, stdout, stderr)
		}
	}
	checkGolden(t, filepath.Join("testdata", "golden", "usage-errors.txt"), b.String())
}

// TestHelpGolden: the help users read, from the command definitions.
func TestHelpGolden(t *testing.T) {
	h := &harness{t: t, vars: map[string]string{"ECSSNAP_CONFIG": "/nonexistent/config.yaml"}}
	for _, args := range [][]string{{"ecssnap", "--help"}, {"ecssnap", "now", "--help"}, {"snapshot-now", "-h"}, {"ecssnap", "help", "plan"}} {
		code, stdout, stderr := h.run(args...)
		if code != cli.ExitOK || stderr != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
		}
		name := strings.ReplaceAll(strings.TrimLeft(strings.Join(args[1:], "-"), "-"), "--", "-")
		checkGolden(t, filepath.Join("testdata", "golden", "help."+args[0]+"."+name+".txt"), stdout)
	}
	// Without a command: the usage on stderr, exit 64.
	if code, stdout, stderr := h.run("ecssnap"); code != cli.ExitUsage || stdout != "" || !strings.Contains(stderr, "Snapshots:\n  now ") {
		t.Errorf("no command: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestFlagsAnywhere: flags may follow positional arguments, as `show -h`
// prints them.
func TestFlagsAnywhere(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(quickScenario()))
	if code, _, stderr := h.run("ecssnap", "now", "--no-wait", "--trigger", "script"); code != cli.ExitOK {
		t.Fatalf("now: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := h.run("ecssnap", "list", "--json", "--limit", "1")
	var jobs []struct{ ID string }
	if err := json.Unmarshal([]byte(stdout), &jobs); code != cli.ExitOK || err != nil || len(jobs) != 1 {
		t.Fatalf("list: exit %d, %v: %s%s", code, err, stdout, stderr)
	}
	id := jobs[0].ID
	for _, args := range [][]string{{"ecssnap", "show", id, "--json"}, {"ecssnap", "show", "--json", id}, {"snapshot-now", "--json", "--dry-run"}} {
		code, stdout, stderr := h.run(args...)
		var v struct{ ID, JobID string }
		if err := json.Unmarshal([]byte(stdout), &v); code != cli.ExitOK || err != nil || (args[1] == "show" && v.ID != id) {
			t.Errorf("%v: exit %d, %v: %s%s", args, code, err, stdout, stderr)
		}
	}
}

// TestCompletion: the scripts come from the command definitions and cover
// snapshot-now too, whose completion requests are ecssnap now's.
func TestCompletion(t *testing.T) {
	h := &harness{t: t, vars: map[string]string{"ECSSNAP_CONFIG": "/nonexistent/config.yaml"}}
	for shell, want := range map[string]string{
		"bash": "complete -o default -F __start_ecssnap ecssnap snapshot-now",
		"zsh":  "#compdef ecssnap snapshot-now",
		"fish": "complete -c snapshot-now -n 'not __ecssnap_requires_order_preservation",
	} {
		code, stdout, stderr := h.run("ecssnap", "completion", shell)
		if code != cli.ExitOK || !strings.Contains(stdout, want) || !strings.Contains(stdout, "__complete") {
			t.Errorf("completion %s: exit %d, stderr %q, script lacks %q", shell, code, stderr, want)
		}
	}
	// What the scripts ask the binary, for both names.
	for _, args := range [][]string{{"ecssnap", "__complete", "now", "--dis"}, {"snapshot-now", "__complete", "--dis"}} {
		code, stdout, _ := h.run(args...)
		if code != cli.ExitOK || !strings.Contains(stdout, "--disks\t") {
			t.Errorf("%v: exit %d\n%s", args, code, stdout)
		}
	}
	code, stdout, _ := h.run("snapshot-now", "__complete", "--consistency", "")
	if code != cli.ExitOK || !strings.HasPrefix(stdout, "crash\nfs\napp\n") {
		t.Errorf("snapshot-now --consistency <TAB>: exit %d\n%s", code, stdout)
	}
}

// TestHelpSaysDefaultsOnce: every command's help states a default once.
func TestHelpSaysDefaultsOnce(t *testing.T) {
	h := &harness{t: t, vars: map[string]string{"ECSSNAP_CONFIG": "/nonexistent/config.yaml"}}
	for _, c := range []string{"now", "plan", "disks", "list", "show", "prune", "status", "doctor", "selftest",
		"mount", "unmount", "mounts", "rollback", "image", "daemon", "service", "completion", "version"} {
		code, stdout, _ := h.run("ecssnap", c, "--help")
		if code != cli.ExitOK {
			t.Errorf("%s --help: exit %d", c, code)
		}
		for _, line := range strings.Split(stdout, "\n") {
			if strings.Count(line, "(default") > 1 {
				t.Errorf("%s --help: %q", c, line)
			}
		}
	}
}
