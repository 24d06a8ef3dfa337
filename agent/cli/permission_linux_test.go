package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// TestPermissionRefusalsExit77 runs the CLI as a real user outside the
// socket's group: the kernel refuses the connect (socket 0660) and, with
// the socket opened to everyone, the daemon answers 403. Both are a
// permission refusal: exit 77 (EX_NOPERM) with the message that says how
// to get access, and no job runs in process instead.
func TestPermissionRefusalsExit77(t *testing.T) {
	u := newOtherUser(t)
	h := newHarness(t, ecsemutest.WithScenario(quickScenario()))
	config := filepath.Join(u.dir, "config.yaml")
	if err := os.WriteFile(config, []byte("consistency: crash\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.vars["ECSSNAP_CONFIG"] = config
	h.vars["ECSSNAP_SOCKET"] = filepath.Join(u.dir, "ecssnap.sock")
	// As in production (/run/ecssnap is 0755), the user can look for a
	// freeze journal to recover.
	h.vars["ECSSNAP_FREEZE_JOURNAL"] = filepath.Join(u.dir, "freeze.json")
	stop := startDaemon(t, h.vars)
	defer stop()

	check := func(t *testing.T) {
		for _, args := range [][]string{{"list"}, {"now", "--no-wait"}, {"status"}} {
			code, _, stderr := u.run(t, h.vars, args...)
			if code != cli.ExitPermission || !strings.Contains(stderr, "permission denied: run as root or add yourself to the ecssnap group") {
				t.Errorf("%s as %s: exit %d, want %d; stderr %q", args[0], u.name, code, cli.ExitPermission, stderr)
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n > 0 {
				t.Errorf("%s: more than one line:\n%s", args[0], stderr)
			}
		}
	}
	t.Run("socket refuses the connect", check)
	if err := os.Chmod(h.vars["ECSSNAP_SOCKET"], 0o666); err != nil {
		t.Fatal(err)
	}
	t.Run("daemon answers 403", check)
	if n := createCalls(h.env); n != 0 {
		t.Errorf("%d create calls for refused callers", n)
	}
}
