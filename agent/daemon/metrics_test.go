package daemon

import (
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/job"
)

// The metrics count jobs by the level they reached, "none" for a job that
// created nothing, and a freeze whose helper died without a report as a
// freeze that ended early.
func TestMetricsCountAchievedLevel(t *testing.T) {
	m := newMetrics()
	m.observe(&job.Result{Outcome: "degraded", Trigger: "manual", Consistency: "crash",
		Freeze: &job.FreezeResult{Frozen: []string{"/"}, ThawedEarly: true, ThawReason: job.ThawReasonHelperGone}})
	m.observe(&job.Result{Outcome: "succeeded", Trigger: "apt", Consistency: "fs", Freeze: &job.FreezeResult{Frozen: []string{"/"}, HeldMS: 40}})
	m.observe(&job.Result{Outcome: "failed", Trigger: "manual"})
	var b strings.Builder
	if err := m.write(&b, &Jobs{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`ecssnap_jobs_consistency_total{consistency="crash"} 1`,
		`ecssnap_jobs_consistency_total{consistency="fs"} 1`,
		`ecssnap_jobs_consistency_total{consistency="none"} 1`,
		"ecssnap_freeze_thawed_early_total 1",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %s in\n%s", want, b.String())
		}
	}
}
