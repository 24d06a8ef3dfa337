package abuse

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// Bounds of the trial. A bad request is answered at once; answerWithin
// leaves room for a loaded 2-core machine. The server drops a connection
// that sends nothing, or stops in its headers, after its
// ReadHeaderTimeout (10 s); dropWithin allows that plus scheduling.
const (
	answerWithin = 5 * time.Second
	healthWithin = time.Second
	dropWithin   = 25 * time.Second
	settleWithin = 150 * time.Second
)

// TestLocalAPIAbuse is the malformed-request and half-open-connection
// trial against the built daemon. ECSSNAP_ABUSE_BIN is the directory of
// bin/ecssnap and bin/ecssnap-emu; ECSSNAP_ABUSE_CONNS the number of
// half-open connections (default 3000) and ECSSNAP_ABUSE_ROUNDS how many
// times they are opened (default 3). Run it inside scripts/netns-run.
func TestLocalAPIAbuse(t *testing.T) {
	bin := os.Getenv("ECSSNAP_ABUSE_BIN")
	if bin == "" {
		t.Skip("a trial of the built binaries: set ECSSNAP_ABUSE_BIN to their directory (make abuse)")
	}
	testenv.RequireRoot(t) // the API answers root (or its group) only
	conns, rounds := 3000, 3
	if n, err := strconv.Atoi(os.Getenv("ECSSNAP_ABUSE_CONNS")); err == nil && n > 0 {
		conns = n
	}
	if n, err := strconv.Atoi(os.Getenv("ECSSNAP_ABUSE_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	raiseNoFile(t, uint64(conns)+1024)

	d := startDaemon(t, bin)
	// Warm up with good requests, so that the resting figures include
	// what the first requests allocate once.
	// A dry-run job opens the daemon's kept-alive connections to the
	// metadata service and the API, which then belong to its rest.
	if r := send(t, d.socket, post("/v1/jobs", `{"disks":{"kind":"all"},"dry_run":true,"wait":"completed"}`), false); r.status != http.StatusCreated {
		t.Fatalf("dry-run job: %d %s %v", r.status, r.body, r.err)
	}
	for range 20 {
		mustHealthy(t, d)
		send(t, d.socket, request("GET", "/v1/jobs", localapi.Host, "", nil), false)
		send(t, d.socket, request("GET", "/v1/metrics", localapi.Host, "", nil), false)
	}
	time.Sleep(500 * time.Millisecond)
	rest := d.stats(t)
	t.Logf("resting daemon: RSS %d KiB, %d fds", rest.rssKiB, rest.fds)

	t.Run("malformed", func(t *testing.T) {
		kinds := malformed()
		for _, c := range kinds {
			r := send(t, d.socket, c.raw, c.closeWrite)
			switch {
			case r.err != nil:
				t.Errorf("%s: %v after %v", c.name, r.err, r.took.Round(time.Millisecond))
			case !c.accepts(r.status):
				t.Errorf("%s: status %d, want %v: %s", c.name, r.status, c.want, r.body)
			case r.status >= 400 && !c.plain && !isEnvelope(r.body):
				t.Errorf("%s: status %d without the error envelope: %q", c.name, r.status, r.body)
			}
			if r.took > answerWithin {
				t.Errorf("%s: answered after %v", c.name, r.took)
			}
			t.Logf("%-34s %d in %v", c.name, r.status, r.took.Round(time.Microsecond))
		}
		took := mustHealthy(t, d)
		after := d.stats(t)
		t.Logf("%d kinds of malformed request sent; then health in %v, daemon RSS %d KiB, %d fds", len(kinds), took.Round(time.Microsecond), after.rssKiB, after.fds)
		if after.fds > rest.fds+2 {
			t.Errorf("daemon holds %d fds after the malformed requests, %d at rest", after.fds, rest.fds)
		}
	})

	t.Run("half-open", func(t *testing.T) {
		// The runtime keeps freed memory for reuse and its heap goal
		// follows the peak, so RSS may rise in the second round; a leak
		// goes on growing after that.
		var prev, peak procStats
		for round := 1; round <= rounds; round++ {
			after := halfOpenRound(t, d, conns, rest)
			t.Logf("round %d done: daemon RSS %d KiB, %d fds", round, after.rssKiB, after.fds)
			if round > 2 && after.rssKiB > prev.rssKiB+rssSlackKiB {
				t.Errorf("round %d: daemon RSS %d KiB, %d after round %d: it grows with every round", round, after.rssKiB, prev.rssKiB, round-1)
			}
			prev, peak.rssKiB = after, max(peak.rssKiB, after.rssKiB)
		}

		// The Go runtime returns freed memory to the kernel after a
		// garbage collection, which an idle daemon runs every 2 minutes;
		// its pools are emptied only by the second.
		deadline := time.Now().Add(settleWithin)
		closed := time.Now()
		var now procStats
		for {
			now = d.stats(t)
			if now.rssKiB <= rest.rssKiB+rssSlackKiB || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
		}
		took := mustHealthy(t, d)
		t.Logf("%v after the last round: health in %v; daemon RSS %d KiB (rest %d), %d fds (rest %d)", time.Since(closed).Round(time.Second), took.Round(time.Microsecond), now.rssKiB, rest.rssKiB, now.fds, rest.fds)
		if now.fds > rest.fds+2 {
			t.Errorf("daemon holds %d fds, %d at rest", now.fds, rest.fds)
		}
		if now.rssKiB > peak.rssKiB+rssSlackKiB {
			t.Errorf("daemon RSS %d KiB idle after the rounds, above their %d KiB", now.rssKiB, peak.rssKiB)
		} else if now.rssKiB > rest.rssKiB+rssSlackKiB {
			t.Logf("RSS not yet back to rest: memory the Go runtime keeps for reuse (the rounds above show whether it grows)")
		}
	})

	if d.exited() {
		t.Fatal("the daemon exited during the trial")
	}
}

// halfOpenRound holds n half-open connections until the daemon has let go
// of them (it must, while the client still holds them), closes them and
// returns the daemon's figures once its fds are back to rest.
func halfOpenRound(t *testing.T, d *daemon, n int, rest procStats) procStats {
	t.Helper()
	held := openHalf(t, d.socket, n)
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	took := mustHealthy(t, d)
	open := d.stats(t)
	t.Logf("%d half-open connections held: health in %v; daemon RSS %d KiB, %d fds", len(held), took.Round(time.Microsecond), open.rssKiB, open.fds)

	start := time.Now()
	now, ok := d.waitFDs(t, rest.fds+2, dropWithin)
	t.Logf("%v later, the connections still held: daemon RSS %d KiB, %d fds", time.Since(start).Round(100*time.Millisecond), now.rssKiB, now.fds)
	if !ok {
		t.Errorf("%d of %d stalled connections still held by the daemon after %v", now.fds-rest.fds, len(held), dropWithin)
	}
	for _, c := range held {
		c.Close()
	}
	held = nil
	now, ok = d.waitFDs(t, rest.fds+2, dropWithin)
	if !ok {
		t.Errorf("daemon holds %d fds after the connections closed, %d at rest", now.fds, rest.fds)
	}
	return now
}

// waitFDs waits up to limit for the daemon's fd count to be at most max.
func (d *daemon) waitFDs(t *testing.T, max int, limit time.Duration) (procStats, bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		now := d.stats(t)
		if now.fds <= max {
			return now, true
		}
		if time.Now().After(deadline) {
			return now, false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rssSlackKiB is how far above its resting RSS the daemon may stay after
// the trial: the Go runtime returns freed memory to the kernel gradually.
const rssSlackKiB = 16 << 10

// kind is one malformed request: raw bytes for the socket and the
// statuses that are a right answer.
type kind struct {
	name       string
	raw        []byte
	closeWrite bool // the client half-closes after sending (a truncated body)
	want       []int
	plain      bool // answered by net/http itself, not in the envelope
}

func (k kind) accepts(status int) bool {
	for _, w := range k.want {
		if status == w {
			return true
		}
	}
	return false
}

func request(method, path, host, body string, header map[string]string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, path)
	if host != "" {
		fmt.Fprintf(&b, "Host: %s\r\n", host)
	}
	for k, v := range header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	if _, ok := header["Transfer-Encoding"]; !ok && (body != "" || method == "POST") {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.WriteString(body)
	return b.Bytes()
}

func post(path, body string) []byte { return request("POST", path, localapi.Host, body, nil) }

// job is a dry-run request for all disks with extra fields, so that a
// request that is (rightly) accepted makes no snapshot.
func job(extra string) string { return `{"disks":{"kind":"all"},"dry_run":true` + extra + `}` }

func malformed() []kind {
	bad := []int{http.StatusBadRequest}
	tooBig := []int{http.StatusRequestEntityTooLarge}
	huge := `{"reason":"` + strings.Repeat("a", 2<<20) + `"}`
	chunked := func(body string) []byte {
		var b bytes.Buffer
		fmt.Fprintf(&b, "POST /v1/jobs HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n", localapi.Host)
		for len(body) > 0 {
			n := min(len(body), 32<<10)
			fmt.Fprintf(&b, "%x\r\n%s\r\n", n, body[:n])
			body = body[n:]
		}
		b.WriteString("0\r\n\r\n")
		return b.Bytes()
	}
	truncated := []byte(fmt.Sprintf("POST /v1/jobs HTTP/1.1\r\nHost: %s\r\nContent-Length: 200\r\n\r\n{\"disks\":{\"kind\":", localapi.Host))
	manyPkgs := make([]string, localapi.MaxPackages+1)
	for i := range manyPkgs {
		manyPkgs[i] = "p"
	}
	pkgs, _ := json.Marshal(manyPkgs)
	var tags []string
	for i := range 25 {
		tags = append(tags, fmt.Sprintf(`{"key":"k%d","value":"v"}`, i))
	}
	return []kind{
		{name: "bad JSON", raw: post("/v1/jobs", `{"disks":`), want: bad},
		{name: "not JSON", raw: post("/v1/jobs", `snapshot please`), want: bad},
		{name: "empty body", raw: post("/v1/jobs", ``), want: bad},
		{name: "JSON array", raw: post("/v1/jobs", `[1,2]`), want: bad},
		{name: "JSON null", raw: post("/v1/jobs", `null`), want: bad},
		{name: "two JSON values", raw: post("/v1/jobs", job(``)+job(``)), want: bad},
		{name: "wrong type: retention_days", raw: post("/v1/jobs", job(`,"retention_days":"7"`)), want: bad},
		{name: "wrong type: tags", raw: post("/v1/jobs", job(`,"tags":{"a":"b"}`)), want: bad},
		{name: "wrong type: timeout number", raw: post("/v1/jobs", job(`,"timeout":5`)), want: bad},
		{name: "wrong type: disks", raw: post("/v1/jobs", `{"disks":42,"dry_run":true}`), want: bad},
		{name: "number overflow", raw: post("/v1/jobs", job(`,"retention_days":1e40`)), want: bad},
		{name: "deep nesting", raw: post("/v1/jobs", `{"reason":`+strings.Repeat("[", 100000)+`}`), want: bad},
		{name: "unknown field", raw: post("/v1/jobs", job(`,"delete_everything":true`)), want: bad},
		{name: "huge body (Content-Length)", raw: post("/v1/jobs", huge), want: tooBig},
		{name: "huge body (chunked)", raw: chunked(huge), want: tooBig},
		{name: "truncated body", raw: truncated, closeWrite: true, want: bad},
		{name: "invalid UTF-8 in reason", raw: post("/v1/jobs", job(`,"reason":"`+"\xff\xfe\xfd"+`"`)), want: []int{http.StatusBadRequest, http.StatusCreated}},
		{name: "control characters in reason", raw: post("/v1/jobs", job(`,"reason":"a\u0000b\u001b[2J\r\n"`)), want: []int{http.StatusBadRequest, http.StatusCreated}},
		{name: "reserved tag key", raw: post("/v1/jobs", job(`,"tags":[{"key":"ecssnap:managed","value":"false"}]`)), want: bad},
		{name: "too many tags", raw: post("/v1/jobs", job(`,"tags":[`+strings.Join(tags, ",")+`]`)), want: bad},
		{name: "retention_days out of range", raw: post("/v1/jobs", job(`,"retention_days":99999999`)), want: bad},
		{name: "retention_days negative", raw: post("/v1/jobs", job(`,"retention_days":-1`)), want: bad},
		{name: "bad trigger", raw: post("/v1/jobs", job(`,"trigger":"apt; rm -rf /"`)), want: bad},
		{name: "bad consistency", raw: post("/v1/jobs", job(`,"consistency":"perfect"`)), want: bad},
		{name: "require above consistency", raw: post("/v1/jobs", job(`,"consistency":"crash","require":"app"`)), want: bad},
		{name: "bad wait", raw: post("/v1/jobs", job(`,"wait":"forever"`)), want: bad},
		{name: "bad timeout", raw: post("/v1/jobs", job(`,"timeout":"soon"`)), want: bad},
		{name: "negative timeout", raw: post("/v1/jobs", job(`,"timeout":"-5m"`)), want: bad},
		{name: "unknown disk selection", raw: post("/v1/jobs", `{"disks":{"kind":"some"},"dry_run":true}`), want: bad},
		{name: "relative mount", raw: post("/v1/jobs", job(`,"mounts":["var/lib"]`)), want: bad},
		{name: "session too long", raw: post("/v1/jobs", job(`,"session":"`+strings.Repeat("s", localapi.MaxSession+1)+`"`)), want: bad},
		{name: "too many packages", raw: post("/v1/jobs", job(`,"packages":`+string(pkgs))), want: bad},
		{name: "plan: bad JSON", raw: post("/v1/plan", `{"disks":{`), want: bad},
		{name: "plan: unknown field", raw: post("/v1/plan", `{"disks":{"kind":"all"},"x":1}`), want: bad},
		{name: "unknown path", raw: request("GET", "/v1/snapshots", localapi.Host, "", nil), want: []int{http.StatusNotFound}},
		{name: "unclean path", raw: request("GET", "/v1/jobs/../health", localapi.Host, "", nil), want: []int{http.StatusNotFound}},
		{name: "NUL in job ID", raw: request("GET", "/v1/jobs/%00", localapi.Host, "", nil), want: []int{http.StatusNotFound, http.StatusBadRequest}},
		{name: "long job ID", raw: request("GET", "/v1/jobs/"+strings.Repeat("j", 8000), localapi.Host, "", nil), want: []int{http.StatusNotFound, http.StatusBadRequest}},
		{name: "events of no job", raw: request("GET", "/v1/jobs/nope/events", localapi.Host, "", nil), want: []int{http.StatusNotFound}},
		{name: "bad limit", raw: request("GET", "/v1/jobs?limit=-1", localapi.Host, "", nil), want: bad},
		{name: "huge limit", raw: request("GET", "/v1/jobs?limit=99999999999999999999", localapi.Host, "", nil), want: bad},
		{name: "wrong method", raw: request("DELETE", "/v1/jobs", localapi.Host, "", nil), want: []int{http.StatusMethodNotAllowed}},
		{name: "wrong method: plan", raw: request("GET", "/v1/plan", localapi.Host, "", nil), want: []int{http.StatusMethodNotAllowed}},
		{name: "bad Host", raw: request("GET", "/v1/health", "evil.example", "", nil), want: []int{http.StatusForbidden}},
		{name: "missing Host (HTTP/1.1)", raw: request("GET", "/v1/health", "", "", nil), want: bad, plain: true},
		{name: "header too large", raw: request("GET", "/v1/health", localapi.Host, "", map[string]string{"X-Pad": strings.Repeat("x", 64<<10)}), want: []int{http.StatusRequestHeaderFieldsTooLarge}, plain: true},
		{name: "garbage request line", raw: []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"), want: bad, plain: true},
		{name: "HTTP/2 preface", raw: []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), want: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusHTTPVersionNotSupported}, plain: true},
		{name: "bad chunked encoding", raw: []byte("POST /v1/jobs HTTP/1.1\r\nHost: " + localapi.Host + "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"), closeWrite: true, want: bad},
	}
}

// result is what one raw request got.
type result struct {
	status int
	body   string
	took   time.Duration
	err    error
}

// send writes raw to a new connection and reads one response, within
// answerWithin (and a margin, so that a slow answer is measured, not cut).
func send(t *testing.T, socket string, raw []byte, closeWrite bool) result {
	t.Helper()
	start := time.Now()
	c, err := net.Dial("unix", socket)
	if err != nil {
		return result{err: err}
	}
	defer c.Close()
	_ = c.SetDeadline(start.Add(answerWithin + 5*time.Second))
	// The server may answer (413, 431) and close before reading all of a
	// large request: a failed write is not the test's concern, the answer is.
	go func() {
		_, _ = c.Write(raw)
		if closeWrite {
			_ = c.(*net.UnixConn).CloseWrite()
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return result{err: fmt.Errorf("no answer: %w", err), took: time.Since(start)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return result{status: resp.StatusCode, body: strings.TrimSpace(string(body)), took: time.Since(start)}
}

func isEnvelope(body string) bool {
	var e struct {
		Error *localapi.Error `json:"error"`
	}
	return json.Unmarshal([]byte(body), &e) == nil && e.Error != nil && e.Error.Code != "" && e.Error.Message != ""
}

// openHalf opens n connections, each sending a part of a request and then
// nothing: no bytes, half a request line, headers without their end, or
// headers and part of the promised body.
func openHalf(t *testing.T, socket string, n int) []net.Conn {
	t.Helper()
	partial := []string{
		"",
		"GET /v1/hea",
		"GET /v1/health HTTP/1.1\r\nHost: " + localapi.Host + "\r\n",
		"POST /v1/jobs HTTP/1.1\r\nHost: " + localapi.Host + "\r\nContent-Length: 100\r\n\r\n{\"disks\":",
	}
	conns := make([]net.Conn, 0, n)
	for i := range n {
		c, err := net.Dial("unix", socket)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			t.Fatalf("connection %d: %v", i, err)
		}
		if p := partial[i%len(partial)]; p != "" {
			if _, err := io.WriteString(c, p); err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
		}
		conns = append(conns, c)
	}
	return conns
}

// daemon is the running `ecssnap daemon` of the trial.
type daemon struct {
	cmd    *exec.Cmd
	socket string
	done   chan struct{}
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// startDaemon starts ecssnap-emu and an ecssnap daemon that talks to it.
func startDaemon(t *testing.T, bin string) *daemon {
	t.Helper()
	dir := t.TempDir()
	emu := exec.Command(filepath.Join(bin, "ecssnap-emu"), "--demo")
	out, err := emu.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	emu.Stderr = io.Discard
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Process.Signal(syscall.SIGTERM); emu.Wait() })
	line, err := bufio.NewReader(out).ReadBytes('\n')
	if err != nil {
		t.Fatalf("ecssnap-emu printed no ready line: %v", err)
	}
	var ready struct {
		API    string `json:"api"`
		IMDS   string `json:"imds"`
		ID     string `json:"access_key_id"`
		Secret string `json:"access_key_secret"`
	}
	if err := json.Unmarshal(line, &ready); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}

	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, []byte("consistency: crash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &daemon{socket: filepath.Join(dir, "ecssnap.sock"), done: make(chan struct{})}
	d.cmd = exec.Command(filepath.Join(bin, "ecssnap"), "daemon")
	d.cmd.Env = append(os.Environ(),
		"ECSSNAP_CONFIG="+config,
		"ECSSNAP_METADATA_ENDPOINT="+ready.IMDS,
		"ECSSNAP_API_ENDPOINT="+ready.API,
		"ECSSNAP_SOCKET="+d.socket,
		"ECSSNAP_STATE_DIR="+filepath.Join(dir, "state"),
		"ECSSNAP_FREEZE_JOURNAL="+filepath.Join(dir, "freeze.json"),
		"ALIBABA_CLOUD_ACCESS_KEY_ID="+ready.ID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET="+ready.Secret,
	)
	var log bytes.Buffer
	d.cmd.Stdout, d.cmd.Stderr = &log, &log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		<-d.done
		if t.Failed() {
			t.Logf("daemon log:\n%s", log.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	client := localapi.NewClient(d.socket)
	defer client.CloseIdleConnections()
	for {
		if _, err := client.Health(context.Background()); err == nil {
			return d
		} else if time.Now().After(deadline) || d.exited() {
			t.Fatalf("daemon did not answer: %v\n%s", err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mustHealthy asks for health on a new connection and fails unless it is
// answered 200 within healthWithin.
func mustHealthy(t *testing.T, d *daemon) time.Duration {
	t.Helper()
	r := send(t, d.socket, request("GET", "/v1/health", localapi.Host, "", nil), false)
	switch {
	case r.err != nil:
		t.Fatalf("health: %v", r.err)
	case r.status != http.StatusOK:
		t.Fatalf("health: %d %s", r.status, r.body)
	case r.took > healthWithin:
		t.Errorf("health answered after %v", r.took)
	}
	return r.took
}

type procStats struct{ rssKiB, fds int }

func (d *daemon) stats(t *testing.T) procStats {
	t.Helper()
	pid := d.cmd.Process.Pid
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("daemon: %v", err)
	}
	var s procStats
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			s.rssKiB, _ = strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("daemon: %v", err)
	}
	s.fds = len(fds)
	return s
}

// raiseNoFile lets the test hold n connections.
func raiseNoFile(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	lim.Cur = min(n, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < n {
		t.Fatalf("cannot hold %d connections: RLIMIT_NOFILE %d: %v", n, lim.Cur, err)
	}
}
