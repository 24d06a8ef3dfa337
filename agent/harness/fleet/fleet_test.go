package fleet

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
)

// A small fleet at a rate it must exceed: every job succeeds, every disk has
// one snapshot, and the counts from both ends agree. This is `make fleet`
// in miniature, so the simulation cannot rot.
func TestSmallFleet(t *testing.T) {
	const agents = 20
	rep, err := Run(context.Background(), Config{
		Agents: agents, RPS: 40, Jitter: -1, DataDisks: 1, Wait: true, SnapshotTime: 300 * time.Millisecond,
		Retry: cloud.RetryPolicy{Base: 50 * time.Millisecond, Max: time.Second, Budget: time.Minute},
		Seed:  1,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if !rep.OK() || rep.Succeeded != agents || rep.Outcomes["succeeded"] != agents {
		t.Fatalf("fleet failed: outcomes %v, findings %+v, failures %v", rep.Outcomes, rep.Findings, rep.FirstFailures)
	}
	if rep.Snapshots != 2*agents || rep.Groups != agents {
		t.Errorf("%d snapshots and %d groups, want %d and %d", rep.Snapshots, rep.Groups, 2*agents, agents)
	}
	// Twenty agents starting at once ask for more than 40 calls in the
	// first second: the account limit must have pushed back, and every
	// throttled attempt must have been retried by the cloud client.
	if rep.Throttled == 0 {
		t.Error("no call was throttled: the rate limit was not exercised")
	}
	if rep.Retries != int64(rep.Throttled) {
		t.Errorf("client retries %d, emulator throttled %d: every throttled call is retried once", rep.Retries, rep.Throttled)
	}
	if rep.Sent != int64(rep.Answered) || rep.Answered != rep.Admitted+rep.Throttled {
		t.Errorf("sent %d, answered %d, admitted %d + throttled %d", rep.Sent, rep.Answered, rep.Admitted, rep.Throttled)
	}
	for action, want := range map[string]int{"DescribeDisks": agents, "CreateSnapshotGroup": agents, "DescribeSnapshotGroups": agents, "TagResources": agents} {
		if got := rep.ByAction[action]; got != want {
			t.Errorf("%s admitted %d times, want one per job (%d)", action, got, want)
		}
	}
	// Two quota counts and the preflight, then at least one poll per job.
	if got := rep.ByAction["DescribeSnapshots"]; got < 4*agents {
		t.Errorf("DescribeSnapshots admitted %d times, want at least %d", got, 4*agents)
	}
	if rep.LowerBoundMS <= 0 || rep.Ratio <= 0 || rep.PeakRSSBytes <= 0 {
		t.Errorf("bound %d ms, ratio %.2f, peak RSS %d", rep.LowerBoundMS, rep.Ratio, rep.PeakRSSBytes)
	}
}

// Jobs that fail are counted, classified and make the report fail.
func TestFailedJobsFailTheRun(t *testing.T) {
	rep, err := Run(context.Background(), Config{
		Agents: 3, RPS: 100, Jitter: -1,
		Faults: ecsemu.Faults{ErrorRate: 1, Actions: []string{"CreateSnapshot", "CreateSnapshotGroup"}},
		Retry:  cloud.RetryPolicy{Base: time.Millisecond, Max: 5 * time.Millisecond, Budget: 200 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Failed != 3 || rep.FailedByClass["temporary"] != 3 || len(rep.FirstFailures) != 3 {
		t.Fatalf("ok %v, failed %d, by class %v, failures %v", rep.OK(), rep.Failed, rep.FailedByClass, rep.FirstFailures)
	}
	if rep.Snapshots != 0 || !rep.Findings.OK() {
		t.Errorf("%d snapshots, findings %+v: a failed create must leave nothing", rep.Snapshots, rep.Findings)
	}
}

func TestMainExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		out  string // in stdout, or stderr for usage errors
	}{
		{"pass", []string{"-n", "2", "-rps", "50", "-jitter", "0"}, ExitPass, "PASS: 2 jobs succeeded"},
		{"pass as JSON", []string{"-n", "1", "-json"}, ExitPass, `"jobs_succeeded": 1`},
		{"failed jobs", []string{"-n", "2", "-jitter", "0", "-error-rate", "1", "-retry-budget", "200ms"}, ExitFail, "FAIL: 2 of 2 jobs failed"},
		{"no agents", []string{"-n", "0"}, ExitUsage, "at least 1 agent"},
		{"no rate", []string{"-rps", "0"}, ExitUsage, "rate limit must be positive"},
		{"bad rate", []string{"-rps", "-3"}, ExitUsage, "rate limit must be positive"},
		{"bad fault", []string{"-drop-rate", "2"}, ExitUsage, "drop_rate 2 is not in [0, 1]"},
		{"too many disks", []string{"-data-disks", "16"}, ExitUsage, "0..15"},
		{"argument", []string{"extra"}, ExitUsage, `unexpected argument "extra"`},
		{"unknown flag", []string{"-frobnicate"}, ExitUsage, "flag provided but not defined: -frobnicate"},
		{"help", []string{"-h"}, ExitPass, "usage: ecssnap-fleet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), append(tt.args, "-progress=false"), &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
			if got := stdout.String() + stderr.String(); !strings.Contains(got, tt.out) {
				t.Errorf("output lacks %q:\n%s", tt.out, got)
			}
			if tt.code == ExitUsage && strings.Count(strings.TrimSpace(stderr.String()), "\n") > 0 {
				t.Errorf("a usage error should be one line:\n%s", stderr.String())
			}
		})
	}
}

func TestScenario(t *testing.T) {
	sc := Scenario(3, 2, time.Second)
	emu, err := ecsemu.New(sc, ecsemu.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	st := emu.State()
	if st.Instance.ID != instanceID(0) || len(st.Instances) != 2 || len(st.Disks) != 9 || len(st.Snapshots) != 0 {
		t.Fatalf("instance %s, %d more, %d disks, %d snapshots", st.Instance.ID, len(st.Instances), len(st.Disks), len(st.Snapshots))
	}
	per := map[string]int{}
	for _, d := range st.Disks {
		per[d.InstanceID]++
	}
	for i := range 3 {
		if per[instanceID(i)] != 3 {
			t.Errorf("%s has %d disks, want 3", instanceID(i), per[instanceID(i)])
		}
	}
	if id := instanceID(7); len(id) != 22 || !strings.HasPrefix(id, "i-bp1") {
		t.Errorf("instance ID %q does not look real", id)
	}
}

func TestParseVmHWM(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"Name:\tx\nVmPeak:\t  100 kB\nVmHWM:\t   2048 kB\nVmRSS:\t 1024 kB\n", 2048 << 10, false},
		{"VmHWM: 12 MB\n", 0, true},
		{"VmHWM: x kB\n", 0, true},
		{"Name: x\n", 0, true},
	}
	for _, tt := range tests {
		got, err := parseVmHWM([]byte(tt.in))
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseVmHWM(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}
