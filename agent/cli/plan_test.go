package cli_test

import (
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// TestPlanPredictsNow: `ecssnap plan` says the level `now` reaches and
// that it ends degraded, and `now` does exactly that. The emulator's disks
// are not this machine's, so fs is wanted and crash is what can be had.
func TestPlanPredictsNow(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(quickScenario()))
	code, stdout, stderr := h.run("ecssnap", "plan", "--consistency", "fs")
	if code != cli.ExitOK {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"consistency: crash", "below the fs wanted: no local device found for", "`now` would end degraded (exit 2)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan does not say %q:\n%s", want, stdout)
		}
	}
	code, _, stderr = h.run("snapshot-now", "--consistency", "fs", "--no-wait")
	if code != cli.ExitDegraded || !strings.Contains(stderr, "below the desired fs: no local device found for") {
		t.Errorf("snapshot-now: exit %d, want %d as planned: %s", code, cli.ExitDegraded, stderr)
	}

	// Crash asked for: reached, nothing more said.
	code, stdout, _ = h.run("ecssnap", "plan", "--consistency", "crash")
	if code != cli.ExitOK || !strings.Contains(stdout, "consistency: crash") || strings.Contains(stdout, "degraded") {
		t.Errorf("plan --consistency crash: exit %d\n%s", code, stdout)
	}
}
