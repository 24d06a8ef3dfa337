package cli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/localapi"
)

// slowScenario's snapshots take a minute: a wait is still going when the
// test interrupts it.
func slowScenario() *ecsemu.Scenario {
	sc := ecsemu.DefaultScenario()
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(time.Minute)}
	return sc
}

// cliProcess is ecssnap (this test binary) run as its own process, so that
// it can be sent signals.
type cliProcess struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	lines          chan string
}

func startCLI(t *testing.T, vars map[string]string, args ...string) *cliProcess {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &cliProcess{cmd: exec.Command(exe, args...), lines: make(chan string, 1000)}
	p.cmd.Env = append(os.Environ(), runCLIEnv+"=1")
	for k, v := range vars {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.stdout.WriteString(sc.Text() + "\n")
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	return p
}

// waitLine waits for an output line containing s.
func (p *cliProcess) waitLine(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("output ended without %q:\n%s\nstderr: %s", s, p.stdout.String(), p.stderr.String())
			}
			if strings.Contains(l, s) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q within 20 s:\n%s", s, p.stdout.String())
		}
	}
}

// signal sends sig and returns the exit code and stderr.
func (p *cliProcess) signal(t *testing.T, sig syscall.Signal) (int, string) {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	for range p.lines {
	}
	err := p.cmd.Wait()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to end after %v", d, sig)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return p.cmd.ProcessState.ExitCode(), p.stderr.String()
}

func oneLine(t *testing.T, stderr string) {
	t.Helper()
	if n := strings.Count(strings.TrimSpace(stderr), "\n"); n > 0 {
		t.Errorf("more than one line on stderr:\n%s", stderr)
	}
}

// describesOf counts the DescribeSnapshots calls since from that ask for
// snapshot id.
func describesOf(env *ecsemutest.Env, from time.Time, id string) int {
	n := 0
	for _, c := range env.Emu.Calls() {
		if c.Action == "DescribeSnapshots" && !c.Time.Before(from) && strings.Contains(c.Params["SnapshotIds"], id) {
			n++
		}
	}
	return n
}

// TestInterruptedWaitInProcess: SIGINT or SIGTERM during `now --wait`
// (no daemon) says the wait was interrupted, that the snapshots go on and
// how to follow them, and exits 130 or 143; the next `now --no-wait` does
// not wait on the earlier job. Before: "2 snapshots still progressing
// after 1h0m0s", and the next command polled the earlier job's snapshots
// for as long as it was let run.
func TestInterruptedWaitInProcess(t *testing.T) {
	for _, tt := range []struct {
		sig  syscall.Signal
		name string
		code int
	}{{syscall.SIGINT, "SIGINT", 130}, {syscall.SIGTERM, "SIGTERM", 143}} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, ecsemutest.WithScenario(slowScenario()))
			p := startCLI(t, h.vars, "now", "--wait")
			p.waitLine(t, "%") // waiting: a progress line
			code, stderr := p.signal(t, tt.sig)
			if code != tt.code || !strings.Contains(stderr, "stopped waiting after") || !strings.Contains(stderr, "interrupted by "+tt.name) ||
				!strings.Contains(stderr, "continue in the cloud: follow them with `ecssnap show j-") || strings.Contains(stderr, "1h0m0s") {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.code, stderr)
			}
			oneLine(t, stderr)

			var jobs []localapi.JobView
			_, out, _ := h.run("ecssnap", "list", "--json")
			if err := json.Unmarshal([]byte(out), &jobs); err != nil || len(jobs) != 1 {
				t.Fatalf("list: %v\n%s", err, out)
			}
			first := jobs[0]
			if first.State != "done" || first.Result.Outcome != "interrupted" {
				t.Errorf("interrupted job recorded %s/%s", first.State, first.Result.Outcome)
			}
			// `ecssnap show`, as the message says, follows them.
			snap := first.Result.Snapshots[0]
			if code, out, _ := h.run("ecssnap", "show", first.ID); code != 0 || !matches(`now: `+snap.SnapshotID+` of `+snap.DiskID+` is progressing, \d+%`, out) {
				t.Errorf("show: exit %d\n%s", code, out)
			}
			start := time.Now()
			code, _, stderr = h.run("ecssnap", "now", "--no-wait")
			if code != 0 || time.Since(start) > 5*time.Second {
				t.Errorf("next now --no-wait: exit %d after %v: %s", code, time.Since(start), stderr)
			}
			if n := describesOf(h.env, start, first.Result.Snapshots[0].SnapshotID); n != 0 {
				t.Errorf("the next command polled the interrupted job's snapshots %d times", n)
			}
		})
	}
}

// TestKilledWaitInProcess: a `now --wait` killed outright leaves its job
// unfinished; the next command resumes it (its creates are settled) but
// does not wait on its snapshots before its own job.
func TestKilledWaitInProcess(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(slowScenario()))
	p := startCLI(t, h.vars, "now", "--wait")
	p.waitLine(t, "%")
	if code, _ := p.signal(t, syscall.SIGKILL); code != -1 {
		t.Fatalf("exit %d after SIGKILL", code)
	}
	start := time.Now()
	code, _, stderr := h.run("ecssnap", "now", "--no-wait")
	if code != 0 || time.Since(start) > 5*time.Second {
		t.Errorf("next now --no-wait: exit %d after %v: %s", code, time.Since(start), stderr)
	}
	var jobs []localapi.JobView
	_, out, _ := h.run("ecssnap", "list", "--json")
	if err := json.Unmarshal([]byte(out), &jobs); err != nil || len(jobs) != 2 {
		t.Fatalf("list: %v\n%s", err, out)
	}
	first := jobs[1]
	if first.State != "done" || first.Result == nil || first.Result.Outcome != "interrupted" || !first.Result.Resumed {
		t.Errorf("the killed job: %+v", first)
	}
	if n := describesOf(h.env, start, first.Result.Snapshots[0].SnapshotID); n != 0 {
		t.Errorf("the next command polled the killed job's snapshots %d times", n)
	}
}

// TestInterruptedIdentify: a signal while the metadata service is slow is
// an interruption (exit 143), not "is this an ECS instance?" (exit 69).
func TestInterruptedIdentify(t *testing.T) {
	h := newHarness(t, ecsemutest.WithFaults(ecsemu.Faults{IMDSLatency: 2 * time.Second}))
	p := startCLI(t, h.vars, "now", "--no-wait")
	time.Sleep(300 * time.Millisecond)
	code, stderr := p.signal(t, syscall.SIGTERM)
	if code != 143 || !strings.Contains(stderr, "interrupted by SIGTERM before any snapshot was created") || strings.Contains(stderr, "ECS instance") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	oneLine(t, stderr)
}

// TestInterruptedWaitThroughDaemon: the daemon stops waiting for a job
// whose only follower was interrupted, so the next request is not held
// behind a wait nobody wants.
func TestInterruptedWaitThroughDaemon(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(slowScenario()))
	stop := startDaemon(t, h.vars)
	defer stop()
	p := startCLI(t, h.vars, "now", "--wait", "--json")
	p.waitLine(t, `"type":"progress"`)
	code, stderr := p.signal(t, syscall.SIGINT)
	if code != 130 || !strings.Contains(stderr, "interrupted by SIGINT while following job j-") || !strings.Contains(stderr, "`ecssnap show j-") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	oneLine(t, stderr)
	lines := strings.Split(strings.TrimSpace(p.stdout.String()), "\n")
	var last struct {
		Type, JobID, Outcome string
		ExitCode             int `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Type != "result" || last.Outcome != "interrupted" || last.ExitCode != 130 {
		t.Errorf("last line %q: %v", lines[len(lines)-1], err)
	}
	start := time.Now()
	code, _, stderr = h.run("ecssnap", "now", "--no-wait")
	if code != 0 || time.Since(start) > 5*time.Second {
		t.Errorf("next now --no-wait: exit %d after %v: %s", code, time.Since(start), stderr)
	}
	var jobs []localapi.JobView
	_, out, _ := h.run("ecssnap", "list", "--json")
	if err := json.Unmarshal([]byte(out), &jobs); err != nil || len(jobs) != 2 {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if first := jobs[1]; first.State != "done" || first.Result == nil || first.Result.Outcome != "interrupted" ||
		!strings.Contains(first.Result.Error, "nobody follows the job, and another request is queued") {
		t.Errorf("the interrupted job: %+v", first)
	}
}

// TestInterruptedCreate: a signal while a create call has no answer says
// so (the call may have taken effect); the next command settles it with
// the same ClientToken, so exactly one snapshot group results.
func TestInterruptedCreate(t *testing.T) {
	h := newHarness(t, ecsemutest.WithScenario(slowScenario()))
	hold := h.env.Emu.HoldCalls("CreateSnapshotGroup")
	p := startCLI(t, h.vars, "now", "--no-wait")
	select {
	case <-hold.Arrived():
	case <-time.After(20 * time.Second):
		t.Fatal("the create never arrived")
	}
	code, stderr := p.signal(t, syscall.SIGINT)
	hold.Release()
	if code != 130 || !strings.Contains(stderr, "interrupted by SIGINT while 1 create calls had no answer yet") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	oneLine(t, stderr)
	if code, _, stderr := h.run("ecssnap", "now", "--no-wait"); code != 0 {
		t.Fatalf("next run: exit %d: %s", code, stderr)
	}
	tokens := map[string]bool{}
	for _, s := range h.env.Emu.Snapshots() {
		if s.GroupID != "" {
			tokens[s.GroupID] = true
		}
	}
	if len(tokens) != 2 {
		t.Errorf("%d snapshot groups, want 2 (one per job)", len(tokens))
	}
	var jobs []localapi.JobView
	_, out, _ := h.run("ecssnap", "list", "--json")
	if err := json.Unmarshal([]byte(out), &jobs); err != nil || len(jobs) != 2 {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if first := jobs[1]; first.State != "done" || first.Result == nil || first.Result.GroupID == "" || !first.Result.Resumed {
		t.Errorf("the interrupted job: %+v", first)
	}
}
