package cli_test

import (
	"path/filepath"
	"testing"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// Without a daemon, the in-process path bounds the job records too.
func TestInProcessJobsKeepRecordsWithinJobRecords(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(quickScenario()))
	h.vars["ECSSNAP_CONFIG"] = writeConfig(t, "consistency: crash\njob_records: {keep: 2}\n")
	for i := range 4 {
		if code, _, stderr := h.run("ecssnap", "now", "--disks", "system", "--no-wait", "--force"); code != cli.ExitOK {
			t.Fatalf("job %d: exit %d: %s", i, code, stderr)
		}
	}
	files, err := filepath.Glob(filepath.Join(h.vars["ECSSNAP_STATE_DIR"], "jobs", "*.json"))
	if err != nil || len(files) != 2 {
		t.Errorf("%d job records (%v), keep is 2", len(files), err)
	}
}
