package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// The member tests run this test binary as a real member of group ecssnap
// (a user and a group created for the test): as the CLI (runCLIEnv), or as
// a raw client of the local API that sends what no CLI would.
const (
	apiHelperEnv = "ECSSNAP_TEST_API"       // "METHOD PATH"
	apiBodyEnv   = "ECSSNAP_TEST_API_BODY"  // the request body
	apiCountEnv  = "ECSSNAP_TEST_API_COUNT" // send it this many times
	apiSocketEnv = "ECSSNAP_TEST_API_SOCKET"
	memberGroup  = "ecssnap"
)

// apiAnswer is one answer as the raw client reports it.
type apiAnswer struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

func init() {
	if os.Getenv(apiHelperEnv) == "" {
		return
	}
	os.Exit(apiHelper())
}

func apiHelper() int {
	method, path, _ := strings.Cut(os.Getenv(apiHelperEnv), " ")
	socket := os.Getenv(apiSocketEnv)
	n, _ := strconv.Atoi(os.Getenv(apiCountEnv))
	n = max(n, 1)
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}}}
	enc := json.NewEncoder(os.Stdout)
	for range n {
		req, err := http.NewRequest(method, "http://"+localapi.Host+path, strings.NewReader(os.Getenv(apiBodyEnv)))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		resp, err := c.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !json.Valid(body) {
			body, _ = json.Marshal(string(body))
		}
		if err := enc.Encode(apiAnswer{Status: resp.StatusCode, Body: bytes.TrimSpace(body)}); err != nil {
			return 1
		}
	}
	return 0
}

// member is a user created for a test, in group ecssnap.
type member struct {
	name     string
	uid, gid int
	// group is the gid of group ecssnap when the member was made: its
	// processes are given it explicitly, not through /etc/group, which
	// other tests running at the same time rewrite.
	group int
}

// newMember creates group ecssnap (unless it exists) and a user in it, and
// removes both at cleanup.
func newMember(t *testing.T) member {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "setpriv", "useradd", "userdel", "groupadd", "groupdel")
	if _, err := user.LookupGroup(memberGroup); err != nil {
		if out, err := exec.Command("groupadd", "--system", memberGroup).CombinedOutput(); err != nil {
			t.Fatalf("groupadd %s: %v\n%s", memberGroup, err, out)
		}
		t.Cleanup(func() {
			if out, err := exec.Command("groupdel", memberGroup).CombinedOutput(); err != nil {
				t.Errorf("groupdel %s: %v\n%s", memberGroup, err, out)
			}
		})
	}
	u := newUser(t, "ecssnapm", "--groups", memberGroup)
	name := u.Username
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	g, err := user.LookupGroup(memberGroup)
	if err != nil {
		t.Fatalf("group %s: %v", memberGroup, err)
	}
	group, _ := strconv.Atoi(g.Gid)
	return member{name: name, uid: uid, gid: gid, group: group}
}

// memberDaemon is `ecssnap daemon` (this binary) run as root, with
// everything a member needs to reach in a directory it may read.
type memberDaemon struct {
	t      *testing.T
	env    *ecsemutest.Env
	dir    string
	bin    string
	vars   []string
	socket string
	log    *syncBuffer
	cmd    *exec.Cmd
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func startMemberDaemon(t *testing.T, config string, hooks map[string]string) *memberDaemon {
	t.Helper()
	env := ecsemutest.Start(t, ecsemutest.WithScenario(quickScenario()))
	dir, bin := testenv.ExecutableCopy(t)
	hooksDir := filepath.Join(dir, "hooks.d")
	if err := os.Mkdir(hooksDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range hooks {
		p := filepath.Join(hooksDir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &memberDaemon{t: t, env: env, dir: dir, bin: bin, socket: filepath.Join(dir, "ecssnap.sock"), log: &syncBuffer{}}
	d.vars = []string{
		runCLIEnv + "=1",
		"ECSSNAP_CONFIG=" + cfg,
		"ECSSNAP_METADATA_ENDPOINT=" + env.IMDSURL,
		"ECSSNAP_API_ENDPOINT=" + env.APIURL,
		"ECSSNAP_SOCKET=" + d.socket,
		"ECSSNAP_STATE_DIR=" + filepath.Join(dir, "state"),
		"ECSSNAP_FREEZE_JOURNAL=" + filepath.Join(dir, "freeze.json"),
		"ECSSNAP_HOOKS_DIR=" + hooksDir,
	}
	d.cmd = exec.Command(bin, "daemon")
	// The daemon's own environment holds the cloud credentials, as it
	// would from a systemd drop-in; ECSSNAP_LOG_LEVEL is left unset: the
	// audit trail must be there at the default level.
	d.cmd.Env = append(withoutLogLevel(os.Environ()), append(d.vars,
		"ALIBABA_CLOUD_ACCESS_KEY_ID="+env.AccessKeyID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET="+env.AccessKeySecret)...)
	d.cmd.Stderr = d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		d.cmd.Wait()
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.log)
		}
	})
	waitHealthy(t, d.socket)
	return d
}

func withoutLogLevel(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "ECSSNAP_LOG_LEVEL=") {
			out = append(out, kv)
		}
	}
	return out
}

// asMember runs this binary as m with the daemon's settings and extra
// environment, and returns its exit code, stdout and stderr.
func (d *memberDaemon) asMember(m member, extra []string, args ...string) (int, string, string) {
	d.t.Helper()
	cmd := exec.Command("setpriv", append([]string{"--reuid", m.name, "--regid", strconv.Itoa(m.gid), "--groups", strconv.Itoa(m.group), d.bin}, args...)...)
	cmd.Env = append(append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/"}, d.vars...), extra...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		d.t.Fatalf("run as %s: %v", m.name, err)
	}
	return code, stdout.String(), stderr.String()
}

// api sends method path body as m, n times, through the raw client.
func (d *memberDaemon) api(m member, n int, method, path, body string) []apiAnswer {
	d.t.Helper()
	code, stdout, stderr := d.asMember(m, []string{apiHelperEnv + "=" + method + " " + path, apiBodyEnv + "=" + body,
		apiCountEnv + "=" + strconv.Itoa(n), apiSocketEnv + "=" + d.socket})
	if code != 0 {
		d.t.Fatalf("API helper as %s: exit %d: %s", m.name, code, stderr)
	}
	var out []apiAnswer
	dec := json.NewDecoder(strings.NewReader(stdout))
	for dec.More() {
		var a apiAnswer
		if err := dec.Decode(&a); err != nil {
			d.t.Fatalf("API helper said %q: %v", stdout, err)
		}
		out = append(out, a)
	}
	return out
}

// asRoot runs the CLI in this process as root against the daemon.
func (d *memberDaemon) asRoot(args ...string) (int, string, string) {
	vars := map[string]string{}
	for _, kv := range d.vars {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	h := &harness{t: d.t, env: d.env, vars: vars}
	return h.run(args...)
}

func (d *memberDaemon) countCalls(action string) int {
	n := 0
	for _, c := range d.env.Emu.Calls() {
		if c.Action == action {
			n++
		}
	}
	return n
}

// jobOf decodes the JSON result `now --json` prints.
func jobOf(t *testing.T, stdout string) (id string, disks []string, consistency string) {
	t.Helper()
	var res struct {
		JobID       string `json:"job_id"`
		Consistency string `json:"consistency"`
		Snapshots   []struct {
			DiskID     string `json:"disk_id"`
			SnapshotID string `json:"snapshot_id"`
		} `json:"snapshots"`
	}
	// One document, or with --wait NDJSON events and the result last.
	doc := strings.TrimSpace(stdout)
	if json.Unmarshal([]byte(doc), &res) != nil {
		doc = doc[strings.LastIndex(doc, "\n")+1:]
	}
	if err := json.Unmarshal([]byte(doc), &res); err != nil {
		t.Fatalf("result %q: %v", stdout, err)
	}
	for _, s := range res.Snapshots {
		if s.SnapshotID != "" {
			disks = append(disks, s.DiskID)
		}
	}
	return res.JobID, disks, res.Consistency
}

// What a member of group ecssnap may do through the daemon: ask for
// snapshots, and nothing more (issue 20, and issue 13 item 7).
func TestGroupMemberMayAskForSnapshotsAndNothingMore(t *testing.T) {
	m := newMember(t)
	d := startMemberDaemon(t, "consistency: crash\njob_records: {keep: 2}\nlocal_api: {rate_per_uid: 0.05, burst_per_uid: 12, queue_per_uid: 2}\n",
		map[string]string{"10-env": "env\n"})
	const secret = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
	// Root's CLI in this process, for the plans it makes itself.
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", d.env.AccessKeyID)
	t.Setenv(secret, d.env.AccessKeySecret)

	var memberJob string
	t.Run("a request joins only a job that covers it", func(t *testing.T) {
		// The member snapshots the data disks as an apt hook would.
		code, stdout, stderr := d.asMember(m, nil, "now", "--trigger", "apt", "--disks", "data", "--wait", "--json")
		if code != cli.ExitOK {
			t.Fatalf("member now: exit %d: %s", code, stderr)
		}
		id, disks, _ := jobOf(t, stdout)
		memberJob = id
		// A request the member's job covers joins it (dnf's request for
		// the data disks at crash).
		code, stdout, stderr = d.asRoot("ecssnap", "now", "--trigger", "dnf", "--disks", "data", "--consistency", "crash", "--no-wait", "--json")
		if joined, _, _ := jobOf(t, stdout); code != cli.ExitOK || joined != id {
			t.Fatalf("root's data request: exit %d, job %s, want to join %s: %s", code, joined, id, stderr)
		}
		// Asking for fs consistency, which the crash job does not give.
		_, stdout, _ = d.asRoot("ecssnap", "now", "--trigger", "dnf", "--disks", "data", "--consistency", "fs", "--wait", "--json")
		if fsJob, _, _ := jobOf(t, stdout); fsJob == id {
			t.Errorf("an fs request joined the crash job %s", id)
		}
		// Root's dnf transaction wants every disk: the data-only jobs do
		// not give it that, so it gets a job of its own.
		code, stdout, stderr = d.asRoot("ecssnap", "now", "--trigger", "dnf", "--wait", "--json")
		if code != cli.ExitOK {
			t.Fatalf("root now: exit %d: %s", code, stderr)
		}
		rootJob, rootDisks, _ := jobOf(t, stdout)
		if rootJob == id || len(rootDisks) != 3 || len(disks) != 2 {
			t.Fatalf("root's all-disks request got job %s with disks %v (the member's data job %s has %v)", rootJob, rootDisks, id, disks)
		}
		// Both callers are on the member's job's record.
		v, err := localapi.NewClient(d.socket).GetJob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if v.Caller == nil || v.Caller.UID != m.uid || v.JoinedCount != 1 || v.JoinedBy[0].Caller.UID != 0 || v.JoinedBy[0].Trigger != "dnf" {
			t.Errorf("job %s: caller %+v, joined by %+v", id, v.Caller, v.JoinedBy)
		}
	})

	t.Run("hook scripts' environment and output stay root's", func(t *testing.T) {
		code, stdout, stderr := d.asMember(m, nil, "show", "--json", memberJob)
		if code != cli.ExitOK {
			t.Fatalf("member show: exit %d: %s", code, stderr)
		}
		if strings.Contains(stdout, secret) || strings.Contains(stdout, d.env.AccessKeySecret) || strings.Contains(stdout, "ECSSNAP_JOB=") {
			t.Errorf("the job's API view hands the hook's output to a member:\n%s", stdout)
		}
		if !strings.Contains(stdout, `"phase": "post-complete"`) || !strings.Contains(stdout, `"name": "10-env"`) || !strings.Contains(stdout, `"exit_code": 0`) {
			t.Errorf("the view does not say the script ran and succeeded:\n%s", stdout)
		}
		// The output is in root's log, and the script never saw the
		// daemon's credentials.
		log := d.log.String()
		if !strings.Contains(log, "ECSSNAP_JOB="+memberJob) || strings.Contains(log, secret) {
			t.Errorf("daemon log: the script's output is missing or it saw the daemon's environment:\n%s", log)
		}
	})

	t.Run("every mutation is logged with uid, pid and command line", func(t *testing.T) {
		want := []string{"local API mutation", fmt.Sprintf("uid=%d", m.uid), "pid=", `cmdline="` + d.bin + " now"}
		for _, line := range strings.Split(d.log.String(), "\n") {
			if !strings.Contains(line, "local API mutation") || !strings.Contains(line, fmt.Sprintf("uid=%d", m.uid)) {
				continue
			}
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(line, w)
			}
			if ok {
				return
			}
		}
		t.Errorf("no mutation line with %q at the default level:\n%s", want, d.log)
	})

	t.Run("the API refuses what the CLI refuses and applies the configured defaults", func(t *testing.T) {
		for _, tc := range []struct{ body, want string }{
			{`{"disks":{"kind":"data"},"tags":[{"key":"ecssnap:managed","value":"false"}]}`, "reserved"},
			{`{"disks":{"kind":"data"},"retention_days":99999999}`, "retention days"},
			{`{"disks":{"kind":"data"},"trigger":"apt\u2028x"}`, "trigger"},
			{`{"disks":{"kind":"data"},"trigger":"apt\nECSSNAP_X=1"}`, "trigger"},
		} {
			a := d.api(m, 1, "POST", "/v1/jobs", tc.body)[0]
			if a.Status != 400 || !strings.Contains(string(a.Body), tc.want) {
				t.Errorf("%s: %d %s, want 400 naming %q", tc.body, a.Status, a.Body, tc.want)
			}
		}
		// No consistency in the request: the daemon's configured crash.
		a := d.api(m, 1, "POST", "/v1/jobs", `{"disks":{"kind":"system"},"force":true,"wait":"completed"}`)[0]
		var v localapi.JobView
		if err := json.Unmarshal(a.Body, &v); err != nil || a.Status != 201 || v.Result == nil {
			t.Fatalf("job without consistency: %d %s", a.Status, a.Body)
		}
		if v.Result.Desired != "crash" || v.Result.Outcome != "succeeded" {
			t.Errorf("desired %q outcome %q, want the configured crash and success", v.Result.Desired, v.Result.Outcome)
		}
	})

	t.Run("plans come from the daemon's inventory", func(t *testing.T) {
		before := d.countCalls("DescribeDisks")
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				if _, err := localapi.NewClient(d.socket).Plan(context.Background(), localapi.PlanRequest{}); err != nil {
					t.Errorf("plan: %v", err)
				}
			})
		}
		wg.Wait()
		if n := d.countCalls("DescribeDisks") - before; n > 1 {
			t.Errorf("40 plans made %d DescribeDisks calls, want at most 1", n)
		}
	})

	t.Run("a member's request rate is bounded", func(t *testing.T) {
		answers := d.api(m, 14, "POST", "/v1/plan", `{"disks":{"kind":"all"}}`)
		refused := 0
		for _, a := range answers {
			if a.Status == 429 {
				refused++
				if !strings.Contains(string(a.Body), "too many requests") || !strings.Contains(string(a.Body), "try again in") {
					t.Errorf("429 without a clear message: %s", a.Body)
				}
			}
		}
		if refused == 0 {
			t.Fatalf("14 requests at once, none refused: %+v", answers)
		}
		code, stdout, stderr := d.asMember(m, nil, "now", "--disks", "system", "--no-wait")
		if code != cli.ExitTemporary || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "too many requests") {
			t.Errorf("member now over the rate: exit %d, stdout %q, stderr %q; want 75 and one line", code, stdout, stderr)
		}
		// Root is not limited.
		if code, _, stderr := d.asRoot("ecssnap", "plan", "--json"); code != cli.ExitOK {
			t.Errorf("root plan: exit %d: %s", code, stderr)
		}
	})

	t.Run("job records are kept within job_records", func(t *testing.T) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			files, _ := filepath.Glob(filepath.Join(d.dir, "state", "jobs", "*.json"))
			if len(files) <= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d job records, keep is 2", len(files))
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
