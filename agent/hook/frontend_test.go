package hook

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name, line string
		want       procStat
		wantErr    bool
	}{
		{name: "plain", line: statLine(fakeProc{pid: 42, ppid: 7, tty: 34816, comm: "apt-get", start: 123456}),
			want: procStat{PID: 42, Comm: "apt-get", PPID: 7, TTY: 34816, Start: 123456}},
		{name: "comm with spaces and parentheses", line: statLine(fakeProc{pid: 5, ppid: 1, comm: "a) (b c", start: 9}),
			want: procStat{PID: 5, Comm: "a) (b c", PPID: 1, Start: 9}},
		{name: "truncated", line: "42 (apt) S 1 42 42 0", wantErr: true},
		{name: "no comm", line: "42 apt S 1", wantErr: true},
		{name: "bad pid", line: "x (apt) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 77", wantErr: true},
		{name: "bad start", line: "4 (apt) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 x", wantErr: true},
		{name: "empty", line: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.line))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFindFrontend(t *testing.T) {
	tests := []struct {
		name           string
		self           int
		procs          []fakeProc
		pid            int
		wantPID        int
		wantSession    string
		wantCmdline    string
		wantUnattended bool
	}{
		{name: "apt under sudo", self: 900, procs: chainApt, wantPID: 800, wantSession: "pm-800-4000",
			wantCmdline: "apt-get install -y curl"},
		{name: "unattended-upgrades", self: 900, procs: chainUnattended, wantPID: 850, wantSession: "pm-850-8000",
			wantCmdline: "unattended-upgrade", wantUnattended: true},
		{name: "explicit pid", self: 900, procs: chainDnf, pid: 4242, wantPID: 4242, wantSession: "pm-4242-4000",
			wantCmdline: "dnf -y upgrade openssl"},
		{name: "explicit pid that is gone falls back to nothing", self: 900, procs: chainDnf, pid: 31337},
		{name: "no frontend name: the parent", self: 900, procs: []fakeProc{
			{pid: 900, ppid: 300, tty: 1, comm: "ecssnap", start: 10},
			{pid: 300, ppid: 1, tty: 1, comm: "mytool", start: 5, argv: []string{"/opt/mytool", "deploy"}},
		}, wantPID: 300, wantSession: "pm-300-5", wantCmdline: "mytool deploy"},
		{name: "cron: no terminal", self: 900, procs: []fakeProc{
			{pid: 900, ppid: 300, comm: "ecssnap", start: 10},
			{pid: 300, ppid: 200, comm: "apt-get", start: 5, argv: []string{"apt-get", "-y", "upgrade"}},
			{pid: 200, ppid: 1, comm: "cron", start: 2, argv: []string{"/usr/sbin/cron", "-f"}},
		}, wantPID: 300, wantSession: "pm-300-5", wantCmdline: "apt-get -y upgrade", wantUnattended: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fakeRoot(t, tt.self, tt.procs...)
			f := findFrontend(procFS{root: root}, tt.pid)
			if got := f.stat.PID; f.found && got != tt.wantPID || !f.found && tt.wantPID != 0 {
				t.Errorf("frontend pid %d (found %v), want %d", got, f.found, tt.wantPID)
			}
			if got := f.session(); got != tt.wantSession {
				t.Errorf("session %q, want %q", got, tt.wantSession)
			}
			if got := commandLine(f.argv); got != tt.wantCmdline {
				t.Errorf("command line %q, want %q", got, tt.wantCmdline)
			}
			if got, why := f.unattended(); got != tt.wantUnattended && tt.wantPID != 0 {
				t.Errorf("unattended %v (%s), want %v", got, why, tt.wantUnattended)
			}
		})
	}
}

func TestFindFrontendWithoutProc(t *testing.T) {
	f := findFrontend(procFS{root: t.TempDir()}, 0)
	if f.found || f.session() != "" {
		t.Errorf("found %+v without /proc", f)
	}
	if u, _ := f.unattended(); u {
		t.Error("unknown attendance counts as unattended; want interactive")
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{nil, ""},
		{[]string{"/usr/bin/zypper", "-n", "up"}, "zypper -n up"},
		{[]string{"/usr/bin/python3", "-s", "/usr/bin/dnf", "up"}, "python3 -s /usr/bin/dnf up"},
		{[]string{"/usr/bin/python2", "/usr/bin/yum", "install", "my pkg", "it's"}, `yum install 'my pkg' 'it'\''s'`},
		{[]string{"pacman", "-S", ""}, "pacman -S ''"},
	}
	for _, tt := range tests {
		if got := commandLine(tt.argv); got != tt.want {
			t.Errorf("commandLine(%q) = %q, want %q", tt.argv, got, tt.want)
		}
	}
}

func TestInChroot(t *testing.T) {
	none := func(string) string { return "" }
	root := fakeRoot(t, 900, chainApt...)
	if yes, why := inChroot(root, none); yes {
		t.Errorf("the test root itself is a chroot: %s", why)
	}

	chrooted := fakeRoot(t, 900, chainApt...)
	link := filepath.Join(chrooted, "proc", "1", "root")
	must(t, os.Remove(link))
	must(t, os.Symlink(t.TempDir(), link)) // PID 1's root is elsewhere
	if yes, _ := inChroot(chrooted, none); !yes {
		t.Error("a root that is not PID 1's is not a chroot")
	}

	if yes, why := inChroot(t.TempDir(), none); yes != procfsExpected {
		t.Errorf("a root without /proc: chroot %v (%s), want %v", yes, why, procfsExpected)
	}

	fake := func(k string) string { return map[string]string{"FAKECHROOT": "true"}[k] }
	if yes, _ := inChroot(root, fake); !yes {
		t.Error("FAKECHROOT=true is not a chroot")
	}
}

func TestInContainer(t *testing.T) {
	none := func(string) string { return "" }
	tests := []struct {
		name  string
		setup func(t *testing.T, root string)
		env   map[string]string
		want  string
	}{
		{name: "host", want: ""},
		{name: "docker", setup: file(".dockerenv", ""), want: "docker"},
		{name: "podman", setup: file("run/.containerenv", "engine=\"podman\"\n"), want: "podman"},
		{name: "systemd marker", setup: file("run/systemd/container", "lxc\n"), want: "lxc"},
		{name: "container variable", env: map[string]string{"container": "systemd-nspawn"}, want: "systemd-nspawn"},
		{name: "PID 1 environ", setup: file("proc/1/environ", "PATH=/bin\x00container=oci\x00"), want: "oci"},
		{name: "PID 1 cgroup", setup: file("proc/1/cgroup", "12:pids:/docker/0123abcd\n0::/docker/0123abcd\n"), want: "cgroup docker"},
		{name: "host cgroup", setup: file("proc/1/cgroup", "0::/init.scope\n"), want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fakeRoot(t, 900, chainApt...)
			if tt.setup != nil {
				tt.setup(t, root)
			}
			getenv := none
			if tt.env != nil {
				getenv = func(k string) string { return tt.env[k] }
			}
			yes, why := inContainer(root, getenv)
			if yes != (tt.want != "") || why != tt.want {
				t.Errorf("inContainer = %v, %q; want %q", yes, why, tt.want)
			}
		})
	}
}

// file returns a setup writing name (relative to the root) with content.
func file(name, content string) func(t *testing.T, root string) {
	return func(t *testing.T, root string) {
		t.Helper()
		p := filepath.Join(root, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(content), 0o644))
	}
}
