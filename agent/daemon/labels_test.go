package daemon

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/job"
)

// Every label value in the metrics is escaped as the text format says and
// drawn from a bounded set, whatever triggers callers invent and whatever
// error codes the cloud sends.
func TestMetricsLabelsEscapedAndBounded(t *testing.T) {
	m := newMetrics()
	for i := range 100 {
		m.observe(&job.Result{Outcome: "succeeded", Trigger: fmt.Sprintf("t%d", i)})
	}
	m.observe(&job.Result{Outcome: "failed", Trigger: "apt", APIErrors: map[string]int64{"Bad\"Code\\\n\u2028x": 1}})
	for i := range 100 {
		m.observe(&job.Result{Outcome: "failed", Trigger: "manual", APIErrors: map[string]int64{fmt.Sprintf("Code%d", i): 1}})
	}
	var b strings.Builder
	if err := m.write(&b, NewJobs(JobsOptions{})); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	series := 0
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		series++
		// One series per line: nothing a value holds may end it.
		if !strings.HasPrefix(line, "ecssnap_") || strings.ContainsRune(line, '\u2028') {
			t.Errorf("bad line %q", line)
		}
	}
	if !strings.Contains(out, `ecssnap_jobs_total{outcome="succeeded",trigger="other"} 100`) {
		t.Errorf("invented triggers not folded into other:\n%s", out)
	}
	if !strings.Contains(out, `ecssnap_api_errors_total{code="Bad\"Code\\\n`) {
		t.Errorf("error code not escaped per the text format:\n%s", out)
	}
	if series > 60 {
		t.Errorf("%d series: the label values are not bounded", series)
	}
}
