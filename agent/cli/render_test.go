package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/job"
)

// TestRenderGolden: what a person reads while a job runs, on a terminal
// and in a log, and the summary after it. A reason that contains "; "
// stays one line, each reason is a line of its own, counts of one are
// singular, and a progress row says "progressing".
func TestRenderGolden(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	events := []job.Event{
		{Type: "plan", Reasons: []string{
			"d-bp1data0000000001, d-bp1data0000000002: one snapshot group (one point in time across these disks)",
			"d-bp1sys00000000001: per-disk snapshot (ESSD Entry disks cannot join a snapshot group; the API refuses them)",
		}},
		{Type: "created", DiskID: "d-bp1sys00000000001", SnapshotID: "s-bp1a0000000000001"},
		{Type: "progress", DiskID: "d-bp1sys00000000001", SnapshotID: "s-bp1a0000000000001", Progress: 51},
		{Type: "accomplished", DiskID: "d-bp1sys00000000001", SnapshotID: "s-bp1a0000000000001"},
		{Type: "done"},
	}
	res := &job.Result{JobID: "j-20261207-100000-0000abcd", Outcome: "succeeded", Consistency: "fs", APICalls: 1, Retries: 1,
		Timings:   job.Timings{ToCreatedMS: 800, TotalMS: 61000},
		Creates:   []job.CreateCall{{Kind: "disk", DiskIDs: []string{"d-bp1sys00000000001"}, ID: "s-bp1a0000000000001"}},
		Freeze:    &job.FreezeResult{HeldMS: 120, Frozen: []string{"/"}},
		Snapshots: []job.SnapshotResult{{DiskID: "d-bp1sys00000000001", Device: "/dev/vda", SnapshotID: "s-bp1a0000000000001", State: "accomplished", SizeGiB: 40, ElapsedMS: 60000}},
	}
	for _, terminal := range []bool{true, false} {
		var out bytes.Buffer
		r := newRenderer(Env{Stdout: &out, IsTerminal: terminal}, false, true)
		for _, ev := range events {
			ev.Time, ev.Job = at, res.JobID
			r.event(ev)
		}
		r.result(res, nil)
		name := "render.plain.txt"
		if terminal {
			name = "render.terminal.txt"
		}
		checkRenderGolden(t, filepath.Join("testdata", "golden", name), out.String())
	}
}

// checkRenderGolden compares with a golden file; -update (the flag of the
// external tests, which share this binary) rewrites it.
func checkRenderGolden(t *testing.T, path, got string) {
	t.Helper()
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./agent/cli -run Golden -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (rerun with -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
