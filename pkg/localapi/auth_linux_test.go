package localapi

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// The auth tests run this test binary a second time, as another user under
// setpriv, as a client of the parent's server. In that role TestMain calls
// clientHelper, which tries each kind of request and prints the outcomes.
const (
	helperEnv       = "ECSSNAP_LOCALAPI_HELPER"
	helperSocketEnv = "ECSSNAP_LOCALAPI_SOCKET"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "client" {
		os.Exit(clientHelper(os.Getenv(helperSocketEnv)))
	}
	os.Exit(m.Run())
}

// outcome is one request's result as the helper reports it.
type outcome struct {
	Op         string `json:"op"`
	OK         bool   `json:"ok"`
	Status     int    `json:"status,omitempty"`
	Code       string `json:"code,omitempty"`
	Denied     bool   `json:"denied,omitempty"`
	NotRunning bool   `json:"not_running,omitempty"`
	Err        string `json:"err,omitempty"`
}

func clientHelper(socket string) int {
	c := NewClient(socket)
	ctx := context.Background()
	ops := []struct {
		name string
		call func() error
	}{
		{"create", func() error { _, err := c.CreateJob(ctx, CreateJobRequest{Trigger: "apt", Session: "s1"}); return err }},
		{"list", func() error { _, err := c.ListJobs(ctx, 0); return err }},
		{"get", func() error { _, err := c.GetJob(ctx, "j-1"); return err }},
		{"health", func() error { _, err := c.Health(ctx); return err }},
	}
	enc := json.NewEncoder(os.Stdout)
	for _, op := range ops {
		err := op.call()
		o := outcome{Op: op.name, OK: err == nil, Denied: errors.Is(err, ErrAccessDenied), NotRunning: errors.Is(err, ErrDaemonNotRunning)}
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			o.Status, o.Code = apiErr.Status, apiErr.Code
		}
		if err != nil {
			o.Err = err.Error()
		}
		if err := enc.Encode(o); err != nil {
			return 1
		}
	}
	return 0
}

// runAs runs the helper against socket under setpriv with args, and returns
// its outcomes by operation and the helper's PID.
func runAs(t *testing.T, bin, socket string, setpriv ...string) (map[string]outcome, int) {
	t.Helper()
	args := append(slices.Clone(setpriv), bin, "-test.run=^$")
	cmd := exec.Command("setpriv", args...)
	cmd.Env = append(os.Environ(), helperEnv+"=client", helperSocketEnv+"="+socket)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := map[string]outcome{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var o outcome
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("helper said %q: %v", sc.Text(), err)
		}
		out[o.Op] = o
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper %v: %v\n%s", setpriv, err, stderr.String())
	}
	return out, cmd.Process.Pid
}

// throwawayGroup creates a group for the test and deletes it afterwards.
func throwawayGroup(t *testing.T) (string, int) {
	t.Helper()
	testenv.RequireTool(t, "groupadd", "groupdel")
	var b [3]byte
	_, _ = rand.Read(b[:])
	name := "ecssnapt" + hex.EncodeToString(b[:])
	if out, err := exec.Command("groupadd", "--system", name).CombinedOutput(); err != nil {
		t.Fatalf("groupadd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("groupdel", name).CombinedOutput(); err != nil {
			t.Errorf("groupdel %s: %v\n%s", name, err, out)
		}
	})
	gid, err := lookupGroup(name)
	if err != nil {
		t.Fatalf("new group %s: %v", name, err)
	}
	return name, gid
}

const nobody = "65534"

func TestAuthAcrossUsers(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "setpriv")
	group, gid := throwawayGroup(t)
	dir, bin := testenv.ExecutableCopy(t)
	outsiderArgs := []string{"--reuid", nobody, "--regid", nobody, "--clear-groups"}
	memberArgs := []string{"--reuid", nobody, "--regid", nobody, "--groups", strconv.Itoa(gid)}

	// The production socket: root:<group> 0660.
	prodDir := filepath.Join(dir, "prod")
	if err := os.Mkdir(prodDir, 0o755); err != nil {
		t.Fatal(err)
	}
	prod := startServer(t, prodDir, ListenOptions{Group: group}, HandlerOptions{Group: group})
	if got := statGID(t, prod.socket); got != gid {
		t.Fatalf("socket gid %d, want %d (%s)", got, gid, group)
	}

	t.Run("member", func(t *testing.T) {
		out, pid := runAs(t, bin, prod.socket, memberArgs...)
		for _, op := range []string{"create", "list", "get", "health"} {
			if !out[op].OK {
				t.Errorf("member %s: %+v", op, out[op])
			}
		}
		calls := prod.fake.calls()
		if len(calls) != 1 {
			t.Fatalf("backend saw %d creates, want 1", len(calls))
		}
		c := calls[0].caller
		if c.UID != 65534 || c.GID != 65534 || c.PID != pid || !slices.Contains(c.Groups, gid) || !strings.Contains(c.Cmdline, "localapi.test") {
			t.Errorf("caller %+v, want uid/gid 65534, pid %d, group %d, cmdline with localapi.test", c, pid, gid)
		}
		want := []string{"local API mutation", "uid=65534", fmt.Sprintf("pid=%d", pid), "cmdline=" + bin, "status=201", "trigger=apt"}
		if len(prod.log.Find(want...)) != 1 {
			t.Errorf("mutation log line with %q missing:\n%s", want, prod.log)
		}
	})

	t.Run("outsider refused by the socket", func(t *testing.T) {
		// The kernel checks the socket's mode at connect: the client turns
		// its EACCES into the same access-denied error as a 403.
		out, _ := runAs(t, bin, prod.socket, outsiderArgs...)
		for _, op := range []string{"create", "list", "get", "health"} {
			if o := out[op]; o.OK || !o.Denied || o.NotRunning || !strings.Contains(o.Err, "usermod -aG ecssnap") {
				t.Errorf("outsider %s: %+v", op, o)
			}
		}
	})

	// A socket anyone may connect to, so that the handler's own check is
	// what refuses the outsider.
	openDir := filepath.Join(dir, "open")
	if err := os.Mkdir(openDir, 0o755); err != nil {
		t.Fatal(err)
	}
	open := startServer(t, openDir, ListenOptions{Group: group, Mode: 0o666}, HandlerOptions{Group: group})

	t.Run("outsider refused by the handler", func(t *testing.T) {
		out, pid := runAs(t, bin, open.socket, outsiderArgs...)
		for _, op := range []string{"create", "list", "get", "health"} {
			o := out[op]
			if o.OK || o.Status != 403 || o.Code != CodeForbidden || !o.Denied || !strings.Contains(o.Err, "usermod -aG "+group) {
				t.Errorf("outsider %s: %+v", op, o)
			}
		}
		if n := len(open.fake.calls()); n != 0 {
			t.Errorf("backend saw %d creates from an outsider", n)
		}
		if len(open.log.Find("WARN", "access denied", "POST", "uid=65534", fmt.Sprintf("pid=%d", pid))) != 1 {
			t.Errorf("refused mutation not logged:\n%s", open.log)
		}
	})

	t.Run("member through the open socket", func(t *testing.T) {
		out, _ := runAs(t, bin, open.socket, memberArgs...)
		if !out["create"].OK || !out["list"].OK {
			t.Errorf("member: %+v", out)
		}
	})

	t.Run("root", func(t *testing.T) {
		c := NewClient(prod.socket)
		defer c.CloseIdleConnections()
		if _, err := c.CreateJob(context.Background(), CreateJobRequest{Session: "root"}); err != nil {
			t.Fatalf("root CreateJob: %v", err)
		}
	})
}
