package job_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
)

// A job whose create responses are lost (the daemon "crashed" before it
// heard them) is resumed from its record: the creates are repeated with the
// same tokens and return the snapshots that already exist.
func TestResumeRepeatsCreatesIdempotently(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(fastScenario()),
		ecsemutest.WithFaults(ecsemu.Faults{DropRate: 1, Actions: []string{"CreateSnapshot", "CreateSnapshotGroup"}}))
	eng, _ := newEngine(t, env, cloud.RetryPolicy{Base: time.Millisecond, Max: 5 * time.Millisecond, Budget: 200 * time.Millisecond})
	var saved []byte
	eng.Record = func(res *job.Result, state string) error {
		if state == job.RecordRunning {
			var err error
			saved, err = json.Marshal(res) // what the store would hold at the crash
			return err
		}
		return nil
	}
	if _, err := eng.Run(context.Background(), job.Request{}); cloud.KindOf(err) != cloud.KindTransport {
		t.Fatalf("with every response cut: err = %v", err)
	}
	committed := countCommitted(env)
	if committed == 0 {
		t.Fatal("no create took effect; the test proves nothing")
	}

	env.Emu.SetFaults(ecsemu.Faults{})
	var rec job.Result
	if err := json.Unmarshal(saved, &rec); err != nil {
		t.Fatal(err)
	}
	eng.Record = nil
	res, err := eng.Resume(context.Background(), &rec, job.Request{Wait: true})
	if err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if res.Outcome != "succeeded" || !res.Resumed || res.Consistency != "crash" {
		t.Errorf("outcome %s, resumed %v, consistency %s", res.Outcome, res.Resumed, res.Consistency)
	}
	if n := countFresh(env); n != 2 {
		t.Errorf("%d snapshots or groups created in all, want 2 (one group, one per-disk)", n)
	}
	for _, s := range res.Snapshots {
		if s.SnapshotID == "" || s.State != job.StateAccomplished {
			t.Errorf("%s: %+v", s.DiskID, s)
		}
	}
}

// countFresh counts create calls that made something new (not replays of a
// ClientToken already used).
func countFresh(env *ecsemutest.Env) int {
	n := 0
	for _, c := range env.Emu.Calls() {
		if (c.Action == "CreateSnapshot" || c.Action == "CreateSnapshotGroup") && c.Committed && !c.Replayed {
			n++
		}
	}
	return n
}

func TestRecordFailureBeforeCreatesAbortsTheJob(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithScenario(fastScenario()))
	eng, _ := newEngine(t, env, cloud.RetryPolicy{})
	diskFull := errors.New("no space left on device")
	eng.Record = func(*job.Result, string) error { return diskFull }
	_, err := eng.Run(context.Background(), job.Request{})
	if !errors.Is(err, diskFull) {
		t.Fatalf("err = %v", err)
	}
	if n := countCommitted(env); n != 0 {
		t.Errorf("%d creates although the job could not be recorded", n)
	}
}
