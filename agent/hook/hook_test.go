package hook

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/job"
)

// submission is one call of the fake Submitter.
type submission struct {
	req              job.Request
	session, cmdline string
}

// fakeSubmitter records requests and answers with res and err.
type fakeSubmitter struct {
	calls  []submission
	res    *job.Result
	joined bool
	err    error
}

func (f *fakeSubmitter) submit(_ context.Context, req job.Request, session, cmdline string) (*job.Result, bool, error) {
	f.calls = append(f.calls, submission{req, session, cmdline})
	return f.res, f.joined, f.err
}

func created() *job.Result {
	return &job.Result{JobID: "j-1", Snapshots: []job.SnapshotResult{{DiskID: "d-1", SnapshotID: "s-1"}}}
}

// classed is a Submitter error carrying its class.
type classed struct {
	msg, class string
}

func (e *classed) Error() string      { return e.msg }
func (e *classed) ErrorClass() string { return e.class }

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestEntryPoints feeds each entry point its package manager's recorded
// input under a process tree like the real one and checks the request.
func TestEntryPoints(t *testing.T) {
	tests := []struct {
		name        string
		manager     string
		args        []string
		input       string // a testdata file
		procs       []fakeProc
		wantTrigger string
		wantSession string
		wantCmdline string
		wantReason  string
		wantTag     string
		// wantPackages is the job record's list; nil skips the check.
		wantPackages []string
		wantNoCall   bool
	}{
		{name: "apt install", manager: "apt", input: "apt/install.v3", procs: chainAptSh,
			wantTrigger: "apt", wantSession: "pm-800-4000", wantCmdline: "apt-get install -y ./ecssnap-sample-a_1.0_all.deb",
			wantReason: "apt-get install -y ./ecssnap-sample-a_1.0_all.deb (1 to install: ecssnap-sample-a)",
			wantTag:    "1 to install: ecssnap-sample-a"},
		{name: "apt upgrade and install", manager: "apt", input: "apt/install-upgrade.v3", procs: chainAptSh,
			wantTrigger: "apt", wantSession: "pm-800-4000",
			wantCmdline:  "apt install -y ./ecssnap-sample-a_1.1_all.deb ./ecssnap-sample-b_2.0_all.deb",
			wantReason:   "apt install -y ./ecssnap-sample-a_1.1_all.deb ./ecssnap-sample-b_2.0_all.deb (1 to install, 1 to upgrade: ecssnap-sample-a ecssnap-sample-b)",
			wantTag:      "1 to install, 1 to upgrade: ecssnap-sample-a ecssnap-sample-b",
			wantPackages: []string{"upgrade ecssnap-sample-a:all 1.0 -> 1.1", "install ecssnap-sample-b:all 2.0"}},
		{name: "apt reinstall", manager: "apt", input: "apt/reinstall.v3", procs: chainAptSh,
			wantTrigger: "apt", wantSession: "pm-800-4000", wantCmdline: "apt-get install --reinstall -y ./ecssnap-sample-b_2.0_all.deb",
			wantReason: "apt-get install --reinstall -y ./ecssnap-sample-b_2.0_all.deb (1 to reinstall: ecssnap-sample-b)",
			wantTag:    "1 to reinstall: ecssnap-sample-b"},
		{name: "apt remove", manager: "apt", input: "apt/remove.v3", procs: chainAptSh,
			wantTrigger: "apt", wantSession: "pm-800-4000", wantCmdline: "apt-get remove -y ecssnap-sample-a ecssnap-sample-b",
			wantReason: "apt-get remove -y ecssnap-sample-a ecssnap-sample-b (2 to remove: ecssnap-sample-b ecssnap-sample-a)",
			wantTag:    "2 to remove: ecssnap-sample-b ecssnap-sample-a"},
		{name: "unattended-upgrades worker", manager: "apt", input: "apt/install-upgrade.v3", procs: chainUnattendedWorker,
			wantTrigger: "apt", wantSession: "pm-850-8000",
			wantCmdline: "apt install -y ./ecssnap-sample-a_1.1_all.deb ./ecssnap-sample-b_2.0_all.deb",
			wantReason:  "apt install -y ./ecssnap-sample-a_1.1_all.deb ./ecssnap-sample-b_2.0_all.deb (1 to install, 1 to upgrade: ecssnap-sample-a ecssnap-sample-b)",
			wantTag:     "1 to install, 1 to upgrade: ecssnap-sample-a ecssnap-sample-b"},
		{name: "dnf plugin", manager: "dnf", input: "plugin/dnf.json", procs: chainDnf,
			wantTrigger: "dnf", wantSession: "pm-4242-4000", wantCmdline: "dnf -y upgrade openssl curl",
			wantReason: "dnf -y upgrade openssl curl (1 to install, 1 to upgrade, 1 to remove: openssl curl telnet)",
			wantTag:    "1 to install, 1 to upgrade, 1 to remove: openssl curl telnet",
			wantPackages: []string{"upgrade openssl:x86_64 1:1.1.1k-9.al8 -> 1:1.1.1k-12.al8",
				"install curl:x86_64 7.61.1-34.al8", "remove telnet:x86_64 1:0.17-76.al8"}},
		{name: "yum plugin", manager: "yum", input: "plugin/yum.json", procs: chainDnf,
			wantTrigger: "yum", wantSession: "pm-4242-4000", wantCmdline: "yum -y upgrade openssl curl",
			wantReason: "yum -y upgrade openssl curl (1 to install, 1 to upgrade, 1 to remove: openssl curl telnet)",
			wantTag:    "1 to install, 1 to upgrade, 1 to remove: openssl curl telnet"},
		{name: "dnf5 actions", manager: "dnf5", args: []string{"4242"}, procs: chainDnf,
			wantTrigger: "dnf", wantSession: "pm-4242-4000", wantCmdline: "dnf -y upgrade openssl",
			wantReason: "dnf -y upgrade openssl"},
		{name: "pacman", manager: "pacman", input: "pacman/targets", procs: chainPacman,
			wantTrigger: "pacman", wantSession: "pm-700-3000", wantCmdline: "pacman -Syu",
			wantReason: "pacman -Syu (3 to change: linux linux-headers openssl)", wantTag: "3 to change: linux linux-headers openssl"},
		{name: "pacman without targets", manager: "pacman", input: "", procs: chainPacman, wantNoCall: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in []byte
			if tt.input != "" {
				in = readTestdata(t, tt.input)
			}
			root := fakeRoot(t, 900, tt.procs...)
			f := &fakeSubmitter{res: created()}
			var stdout, stderr bytes.Buffer
			env := Env{Root: root, Stdout: &stdout, Stderr: &stderr, Policy: DefaultPolicy()}
			code := Run(context.Background(), tt.manager, tt.args, bytes.NewReader(in), env, f.submit)
			if code != ExitGoOn {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if stdout.Len() > 0 {
				t.Errorf("wrote to stdout: %q", stdout.String())
			}
			if tt.wantNoCall {
				if len(f.calls) != 0 {
					t.Errorf("asked for a snapshot: %+v", f.calls)
				}
				return
			}
			if len(f.calls) != 1 {
				t.Fatalf("%d submissions, want 1; stderr: %s", len(f.calls), stderr.String())
			}
			c := f.calls[0]
			if c.req.Trigger != tt.wantTrigger || c.session != tt.wantSession || c.cmdline != tt.wantCmdline {
				t.Errorf("trigger %q session %q cmdline %q; want %q %q %q", c.req.Trigger, c.session, c.cmdline,
					tt.wantTrigger, tt.wantSession, tt.wantCmdline)
			}
			if c.req.Reason != tt.wantReason {
				t.Errorf("reason %q\nwant   %q", c.req.Reason, tt.wantReason)
			}
			gotTag := ""
			for _, tag := range c.req.Tags {
				if tag.Key == TagPackages {
					gotTag = tag.Value
				}
			}
			if gotTag != tt.wantTag {
				t.Errorf("tag %q, want %q", gotTag, tt.wantTag)
			}
			if tt.wantPackages != nil && !slices.Equal(c.req.Packages, tt.wantPackages) {
				t.Errorf("packages %q\nwant     %q", c.req.Packages, tt.wantPackages)
			}
			if c.req.Wait {
				t.Error("the hook waits for completion without WaitCompleted")
			}
			if !createdLine.MatchString(stderr.String()) || strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("stderr %q: want one line reporting the snapshot", stderr.String())
			}
		})
	}
}

// TestPolicy: the exit code and the one line for each outcome and policy.
func TestPolicy(t *testing.T) {
	quota := &classed{msg: "QuotaExceed.Snapshot: disk d-1 is at its snapshot quota", class: job.ClassFailed}
	unreachable := &classed{msg: "metadata service unreachable", class: job.ClassUnavailable}
	tests := []struct {
		name   string
		procs  []fakeProc
		mode   map[string]string
		env    map[string]string
		err    error
		joined bool
		code   int
		line   string
		calls  int
	}{
		{name: "interactive default fails closed", procs: chainAptSh, err: quota, code: ExitStop, calls: 1,
			line: "^ecssnap: stopped apt before it changed anything: the snapshot failed: QuotaExceed.Snapshot: disk d-1 is at its snapshot quota. " +
				"To go on without a snapshot this once, run `ECSSNAP_SKIP=1 apt-get install -y ./ecssnap-sample-a_1.0_all.deb`; " +
				"to let apt go on when the snapshot fails, set package_hooks.policy.apt: fail-open in /etc/ecssnap/config.yaml$"},
		{name: "sudo in the hint", procs: chainAptSh, env: map[string]string{"SUDO_USER": "alice"}, err: quota, code: ExitStop, calls: 1,
			line: "run `sudo ECSSNAP_SKIP=1 apt-get install"},
		{name: "unattended default fails open", procs: chainUnattendedWorker, err: quota, code: ExitGoOn, calls: 1,
			line: "^WARNING: ecssnap: the snapshot before .* failed: QuotaExceed.* apt goes on WITHOUT a snapshot \\(package_hooks.policy for apt: fail-open, unattended: run by unattended-upgr\\)$"},
		{name: "ECSSNAP_UNATTENDED", procs: chainAptSh, env: map[string]string{"ECSSNAP_UNATTENDED": "apt-daily-upgrade.service"}, err: quota, code: ExitGoOn, calls: 1,
			line: "unattended: ECSSNAP_UNATTENDED=apt-daily-upgrade.service"},
		{name: "configured fail-open", procs: chainAptSh, mode: map[string]string{"apt": FailOpen}, err: quota, code: ExitGoOn, calls: 1,
			line: "goes on WITHOUT a snapshot"},
		{name: "configured fail-closed for unattended", procs: chainUnattendedWorker, mode: map[string]string{"apt.unattended": FailClosed}, err: quota, code: ExitStop, calls: 1,
			line: "^ecssnap: stopped apt"},
		{name: "unreachable fails open even when closed", procs: chainAptSh, mode: map[string]string{"apt": FailClosed}, err: unreachable, code: ExitGoOn, calls: 1,
			line: "^WARNING: ecssnap: NO SNAPSHOT before .*: neither the ecssnap daemon nor the cloud could be reached \\(metadata service unreachable\\); apt goes on WITHOUT a snapshot$"},
		{name: "joined", procs: chainAptSh, joined: true, code: ExitGoOn, calls: 1, line: "already taken, joined \\(job j-1, 1 snapshot created\\)"},
		{name: "skip", procs: chainAptSh, env: map[string]string{"ECSSNAP_SKIP": "1"}, err: quota, code: ExitGoOn, calls: 0,
			line: "^ecssnap: ECSSNAP_SKIP=1: no snapshot before apt-get install"},
		{name: "container skipped", procs: chainAptSh, env: map[string]string{"container": "docker"}, err: quota, code: ExitGoOn, calls: 0,
			line: "this is a container \\(docker\\); package_hooks.in_container is skip"},
		{name: "chroot skipped", procs: chainAptSh, env: map[string]string{"FAKECHROOT": "true"}, err: quota, code: ExitGoOn, calls: 0,
			line: "this is a chroot \\(fakechroot\\); package_hooks.in_chroot is skip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			policy := DefaultPolicy()
			for k, v := range tt.mode {
				policy.Mode[k] = v
			}
			root := fakeRoot(t, 900, tt.procs...)
			res := created()
			if tt.err != nil {
				res = nil
			}
			f := &fakeSubmitter{res: res, joined: tt.joined, err: tt.err}
			var stderr bytes.Buffer
			env := Env{Root: root, Stderr: &stderr, Policy: policy, Getenv: func(k string) string { return tt.env[k] }}
			code := Run(context.Background(), "apt", nil, bytes.NewReader(readTestdata(t, "apt/install.v3")), env, f.submit)
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			if len(f.calls) != tt.calls {
				t.Errorf("%d submissions, want %d", len(f.calls), tt.calls)
			}
			line := strings.TrimSuffix(stderr.String(), "\n")
			if strings.Contains(line, "\n") || !regexp.MustCompile(tt.line).MatchString(line) {
				t.Errorf("stderr %q\ndoes not match %q", stderr.String(), tt.line)
			}
		})
	}
}

// TestChrootAndContainerRun: with in_chroot/in_container run, the hook
// snapshots there too.
func TestChrootAndContainerRun(t *testing.T) {
	root := fakeRoot(t, 900, chainAptSh...)
	policy := DefaultPolicy()
	policy.InChroot, policy.InContainer = RunAnyway, RunAnyway
	f := &fakeSubmitter{res: created()}
	env := Env{Root: root, Policy: policy, Getenv: func(k string) string {
		return map[string]string{"FAKECHROOT": "true", "container": "lxc"}[k]
	}}
	if code := Run(context.Background(), "apt", nil, bytes.NewReader(readTestdata(t, "apt/install.v3")), env, f.submit); code != 0 || len(f.calls) != 1 {
		t.Errorf("exit %d, %d submissions; want 0 and 1", code, len(f.calls))
	}
}

// TestInstallRootIsAChroot: a dnf or yum --installroot transaction changes
// another tree. It follows package_hooks.in_chroot like apt in a chroot:
// skipped by default with one line naming the root, snapshotted with
// in_chroot: run (real dnf --installroot in packaging/pm-test).
func TestInstallRootIsAChroot(t *testing.T) {
	input := `{"version": 1, "pid": 4242, "argv": ["/usr/bin/dnf", "-y", "install", "tiny"],
		"packages": [{"action": "install", "name": "tiny", "arch": "noarch", "to": "1.0-1"}], "installroot": "/srv/root/"}`
	for _, tt := range []struct {
		inChroot string
		want     int // submissions
		line     string
	}{
		{inChroot: Skip, want: 0, line: "ecssnap: no snapshot before dnf -y install tiny: it changes another root, /srv/root (--installroot); package_hooks.in_chroot is skip\n"},
		{inChroot: RunAnyway, want: 1, line: "ecssnap: snapshot before dnf -y install tiny: job j-1, 1 snapshot created\n"},
	} {
		t.Run(tt.inChroot, func(t *testing.T) {
			policy := DefaultPolicy()
			policy.InChroot = tt.inChroot
			var stderr bytes.Buffer
			f := &fakeSubmitter{res: created()}
			env := Env{Root: fakeRoot(t, 900, chainDnf...), Policy: policy, Stderr: &stderr}
			if code := Run(context.Background(), "dnf", nil, strings.NewReader(input), env, f.submit); code != 0 || len(f.calls) != tt.want {
				t.Errorf("exit %d, %d submissions; want 0 and %d", code, len(f.calls), tt.want)
			}
			if stderr.String() != tt.line {
				t.Errorf("stderr %q, want %q", stderr.String(), tt.line)
			}
		})
	}
}

// TestAptUpdateNeverSnapshots: apt runs Pre-Install-Pkgs only when dpkg
// runs, so `apt update` never calls the hook (checked with real apt); if
// some frontend did, with no package lines, no snapshot is asked for.
func TestAptUpdateNeverSnapshots(t *testing.T) {
	in := readTestdata(t, "apt/install.v3")
	head, _, _ := bytes.Cut(in, []byte("\n\n"))
	update := bytes.Replace(head, []byte("CommandLine::AsString=apt-get%20install%20-y%20./ecssnap-sample-a_1.0_all.deb"),
		[]byte("CommandLine::AsString=apt-get%20update"), 1)
	for name, input := range map[string][]byte{"update": append(update, '\n', '\n'), "no packages": append(head, '\n', '\n')} {
		f := &fakeSubmitter{res: created()}
		env := Env{Root: fakeRoot(t, 900, chainAptSh...), Policy: DefaultPolicy()}
		if code := Run(context.Background(), "apt", nil, bytes.NewReader(input), env, f.submit); code != 0 || len(f.calls) != 0 {
			t.Errorf("%s: exit %d, %d submissions", name, code, len(f.calls))
		}
	}
}

// TestAptUnreadableInput: a protocol apt did not speak still snapshots
// (a snapshot too many beats a missed one).
func TestAptUnreadableInput(t *testing.T) {
	f := &fakeSubmitter{res: created()}
	var stderr bytes.Buffer
	env := Env{Root: fakeRoot(t, 900, chainAptSh...), Stderr: &stderr, Policy: DefaultPolicy()}
	code := Run(context.Background(), "apt", nil, strings.NewReader("/var/cache/apt/archives/curl_8.0_amd64.deb\n"), env, f.submit)
	if code != 0 || len(f.calls) != 1 || !strings.Contains(stderr.String(), "not apt hook protocol version 3") {
		t.Errorf("exit %d, %d submissions, stderr %q", code, len(f.calls), stderr.String())
	}
	if f.calls[0].cmdline != "apt-get install -y curl" {
		t.Errorf("cmdline %q, want the frontend's", f.calls[0].cmdline)
	}
}

// TestZypperFrames: a recorded commit-plugin conversation; every frame is
// ACKed, the snapshot runs on COMMITBEGIN, and a failed snapshot cannot
// stop zypper (the exit code stays 0).
func TestZypperFrames(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		line string
	}{
		{name: "created", line: "^ecssnap: snapshot before zypper -n up: job j-1"},
		{name: "failed", err: &classed{msg: "QuotaExceed.Snapshot", class: job.ClassFailed},
			line: "^WARNING: ecssnap: the snapshot before zypper -n up failed: QuotaExceed.Snapshot; zypper plugins cannot stop a commit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := created()
			if tt.err != nil {
				res = nil
			}
			f := &fakeSubmitter{res: res, err: tt.err}
			var stdout, stderr bytes.Buffer
			env := Env{Root: fakeRoot(t, 900, chainZypper...), Stdout: &stdout, Stderr: &stderr, Policy: DefaultPolicy()}
			code := Run(context.Background(), "zypper", nil, bytes.NewReader(readTestdata(t, "zypper/commit.frames")), env, f.submit)
			if code != 0 {
				t.Errorf("exit %d", code)
			}
			var acks int
			r := bufio.NewReader(&stdout)
			for {
				fr, err := ReadFrame(r)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("reply: %v", err)
				}
				if fr.Command != "ACK" {
					t.Errorf("reply %q, want ACK", fr.Command)
				}
				acks++
			}
			if acks != 4 {
				t.Errorf("%d ACKs for 4 frames", acks)
			}
			if len(f.calls) != 1 {
				t.Fatalf("%d submissions, want 1", len(f.calls))
			}
			c := f.calls[0]
			if c.req.Trigger != "zypper" || c.session != "pm-700-3000" ||
				c.req.Reason != "zypper -n up (2 to install, 1 to remove: curl libcurl4 telnet)" {
				t.Errorf("request %+v session %q", c.req, c.session)
			}
			if !regexp.MustCompile(tt.line).MatchString(stderr.String()) {
				t.Errorf("stderr %q does not match %q", stderr.String(), tt.line)
			}
		})
	}
}

// TestPythonPlugins byte-compiles the dnf and yum plugins and runs each
// under stand-ins for dnf and yum: the JSON they write is the recorded
// testdata the Go side reads, and a non-zero exit of ecssnap aborts the
// transaction while a missing binary does not; an --installroot is passed
// on for ecssnap to decide.
func TestPythonPlugins(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is missing")
		}
		t.Skip("python3 is missing")
	}
	plugins := map[string]string{
		"dnf": filepath.Join("..", "..", "packaging", "hooks", "dnf", "ecssnap.py"),
		"yum": filepath.Join("..", "..", "packaging", "hooks", "yum", "ecssnap.py"),
	}
	for manager, file := range plugins {
		t.Run(manager, func(t *testing.T) {
			if out, err := exec.Command(python, "-c", "import py_compile,sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)",
				file, filepath.Join(t.TempDir(), "x.pyc")).CombinedOutput(); err != nil {
				t.Fatalf("py_compile: %v\n%s", err, out)
			}
			dir := t.TempDir()
			captured := filepath.Join(dir, "stdin.json")
			fake := filepath.Join(dir, "ecssnap")
			script := "#!/bin/sh\n[ \"$1 $2\" = \"hook " + manager + "\" ] || exit 99\ncat > " + captured + "\nexit \"${FAKE_CODE:-0}\"\n"
			must(t, os.WriteFile(fake, []byte(script), 0o755))
			drive := func(code, binary, installroot string) string {
				t.Helper()
				cmd := exec.Command(python, filepath.Join("testdata", "plugin", "drive.py"), manager, file, binary, installroot)
				cmd.Env = append(os.Environ(), "FAKE_CODE="+code)
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("drive.py: %v", err)
				}
				return strings.TrimSpace(string(out))
			}
			if got := drive("0", fake, "/"); got != "go-on" {
				t.Errorf("ecssnap exit 0: %q, want go-on", got)
			}
			got, err := os.ReadFile(captured)
			must(t, err)
			want := readTestdata(t, filepath.Join("plugin", manager+".json"))
			pid := regexp.MustCompile(`"pid": \d+`)
			if string(pid.ReplaceAll(got, []byte(`"pid": 4242`))) != strings.TrimSpace(string(want)) {
				t.Errorf("the plugin wrote\n%s\nwant (pid aside)\n%s", got, want)
			}
			if _, err := ParsePluginInput(bytes.NewReader(got)); err != nil {
				t.Errorf("the Go side cannot read it: %v", err)
			}
			if got := drive("1", fake, "/"); !strings.HasPrefix(got, "abort: ecssnap stopped the transaction") {
				t.Errorf("ecssnap exit 1: %q, want an abort", got)
			}
			if got := drive("1", filepath.Join(dir, "missing"), "/"); got != "go-on" {
				t.Errorf("missing binary: %q, want go-on", got)
			}
			// --installroot: ecssnap decides (package_hooks.in_chroot), so
			// it runs, is told the root, and its verdict stands.
			must(t, os.Remove(captured))
			if got := drive("1", fake, dir+"/./"); !strings.HasPrefix(got, "abort: ") {
				t.Errorf("--installroot, ecssnap exit 1: %q, want an abort", got)
			}
			got, err = os.ReadFile(captured)
			must(t, err)
			in, err := ParsePluginInput(bytes.NewReader(got))
			if err != nil || in.InstallRoot != dir {
				t.Errorf("--installroot %s: the plugin wrote %s (%v)", dir, got, err)
			}
		})
	}
}

// More process chains, as the kernel shows them.
var (
	// apt runs hooks through /bin/sh -c.
	chainAptSh = append([]fakeProc{
		{pid: 900, ppid: 890, tty: ttyPts0, comm: "ecssnap", start: 5000, argv: []string{"/usr/bin/ecssnap", "hook", "apt"}},
		{pid: 890, ppid: 800, tty: ttyPts0, comm: "sh", start: 4990, argv: []string{"sh", "-c", "ECSSNAP_APT_HOOK=3 test -x /usr/bin/ecssnap && exec /usr/bin/ecssnap hook apt || true"}},
		{pid: 800, ppid: 700, tty: ttyPts0, comm: "apt-get", start: 4000, argv: []string{"apt-get", "install", "-y", "curl"}},
	}, chainApt[2:]...)
	// unattended-upgrades forks a worker that keeps its name.
	chainUnattendedWorker = []fakeProc{
		{pid: 900, ppid: 890, comm: "ecssnap", start: 9000, argv: []string{"/usr/bin/ecssnap", "hook", "apt"}},
		{pid: 890, ppid: 860, comm: "sh", start: 8990, argv: []string{"sh", "-c", "..."}},
		{pid: 860, ppid: 850, comm: "unattended-upgr", start: 8500, argv: []string{"/usr/bin/python3", "/usr/bin/unattended-upgrade"}},
		{pid: 850, ppid: 840, comm: "unattended-upgr", start: 8000, argv: []string{"/usr/bin/python3", "/usr/bin/unattended-upgrade"}},
		{pid: 840, ppid: 1, comm: "apt.systemd.dai", start: 7900, argv: []string{"/bin/sh", "/usr/lib/apt/apt.systemd.daily", "install"}},
	}
	chainPacman = []fakeProc{
		{pid: 900, ppid: 700, tty: ttyPts0, comm: "ecssnap", start: 5000, argv: []string{"/usr/bin/ecssnap", "hook", "pacman"}},
		{pid: 700, ppid: 600, tty: ttyPts0, comm: "pacman", start: 3000, argv: []string{"pacman", "-Syu"}},
		{pid: 600, ppid: 1, tty: ttyPts0, comm: "bash", start: 100, argv: []string{"-bash"}},
	}
	chainZypper = []fakeProc{
		{pid: 900, ppid: 890, tty: ttyPts0, comm: "ecssnap", start: 5000, argv: []string{"/usr/bin/ecssnap", "hook", "zypper"}},
		{pid: 890, ppid: 700, tty: ttyPts0, comm: "ecssnap", start: 4990, argv: []string{"/bin/sh", "/usr/lib/zypp/plugins/commit/ecssnap"}},
		{pid: 700, ppid: 600, tty: ttyPts0, comm: "zypper", start: 3000, argv: []string{"zypper", "-n", "up"}},
		{pid: 600, ppid: 1, tty: ttyPts0, comm: "bash", start: 100, argv: []string{"-bash"}},
	}
)

// TestWaitCompleted: the hook asks to wait for completion only when the
// policy says so.
func TestWaitCompleted(t *testing.T) {
	for _, wait := range []bool{false, true} {
		policy := DefaultPolicy()
		policy.WaitCompleted = wait
		f := &fakeSubmitter{res: created()}
		env := Env{Root: fakeRoot(t, 900, chainAptSh...), Policy: policy}
		if code := Run(context.Background(), "apt", nil, bytes.NewReader(readTestdata(t, "apt/install.v3")), env, f.submit); code != 0 || len(f.calls) != 1 {
			t.Fatalf("exit %d, %d submissions", code, len(f.calls))
		}
		if f.calls[0].req.Wait != wait {
			t.Errorf("WaitCompleted %v: request Wait %v", wait, f.calls[0].req.Wait)
		}
	}
}

// A distribution upgrade's package list is cut to what the local API
// takes, and says how many were left out.
func TestRequestPackagesBounded(t *testing.T) {
	tx := transaction{manager: "apt", trigger: "apt"}
	for i := range localapi.MaxPackages + 5 {
		tx.changes = append(tx.changes, Change{Action: ActionUpgrade, Name: fmt.Sprintf("pkg%d", i), Arch: "amd64",
			From: "1", To: strings.Repeat("2", 300)})
	}
	req := newHook(Env{}, nil).request(tx, "apt full-upgrade")
	if len(req.Packages) != localapi.MaxPackages || req.Packages[len(req.Packages)-1] != "and 6 more" {
		t.Fatalf("%d entries ending %q, want %d ending \"and 6 more\"", len(req.Packages), req.Packages[len(req.Packages)-1], localapi.MaxPackages)
	}
	creq := localapi.CreateJobRequest{Packages: req.Packages}
	if err := creq.Validate(); err != nil {
		t.Errorf("the local API refuses the hook's list: %v", err)
	}
}

// createdLine is the end of the hook's line for snapshots taken.
var createdLine = regexp.MustCompile(`, \d+ snapshots? created\n`)
