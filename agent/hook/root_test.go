package hook

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeProc is one process in a test root's /proc.
type fakeProc struct {
	pid, ppid, tty int
	comm           string
	start          uint64
	argv           []string
}

// fakeRoot is a test root: /proc with the given processes, /proc/self
// pointing at self, and PID 1's root the tree itself (no chroot).
func fakeRoot(t *testing.T, self int, procs ...fakeProc) string {
	t.Helper()
	root := t.TempDir()
	procs = append(procs, fakeProc{pid: 1, comm: "systemd", start: 1, argv: []string{"/sbin/init"}})
	for _, p := range procs {
		dir := filepath.Join(root, "proc", strconv.Itoa(p.pid))
		must(t, os.MkdirAll(dir, 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "stat"), []byte(statLine(p)), 0o444))
		must(t, os.WriteFile(filepath.Join(dir, "cmdline"), []byte(strings.Join(p.argv, "\x00")+"\x00"), 0o444))
	}
	must(t, os.Symlink(strconv.Itoa(self), filepath.Join(root, "proc", "self")))
	must(t, os.Symlink(root, filepath.Join(root, "proc", "1", "root")))
	return root
}

// statLine renders /proc/<pid>/stat as the kernel does (52 fields).
func statLine(p fakeProc) string {
	fields := []string{
		strconv.Itoa(p.pid), "(" + p.comm + ")", "S", strconv.Itoa(p.ppid), strconv.Itoa(p.pid), strconv.Itoa(p.pid),
		strconv.Itoa(p.tty), "-1", "4194560", "1000", "0", "0", "0", "10", "5", "0", "0", "20", "0", "1", "0",
		strconv.FormatUint(p.start, 10),
	}
	for len(fields) < 52 {
		fields = append(fields, "0")
	}
	return strings.Join(fields, " ") + "\n"
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Typical process chains: the hook (pid 900, "ecssnap") under a package
// manager.
var (
	ttyPts0 = 34816 // /dev/pts/0

	chainApt = []fakeProc{
		{pid: 900, ppid: 800, tty: ttyPts0, comm: "ecssnap", start: 5000, argv: []string{"/usr/bin/ecssnap", "hook", "apt"}},
		{pid: 800, ppid: 700, tty: ttyPts0, comm: "apt-get", start: 4000, argv: []string{"apt-get", "install", "-y", "curl"}},
		{pid: 700, ppid: 600, tty: ttyPts0, comm: "sudo", start: 3900, argv: []string{"sudo", "apt-get", "install", "-y", "curl"}},
		{pid: 600, ppid: 1, tty: ttyPts0, comm: "bash", start: 100, argv: []string{"-bash"}},
	}
	chainUnattended = []fakeProc{
		{pid: 900, ppid: 850, comm: "ecssnap", start: 9000, argv: []string{"/usr/bin/ecssnap", "hook", "apt"}},
		{pid: 850, ppid: 840, comm: "unattended-upgr", start: 8000, argv: []string{"/usr/bin/python3", "/usr/bin/unattended-upgrade"}},
		{pid: 840, ppid: 1, comm: "apt.systemd.dai", start: 7900, argv: []string{"/bin/sh", "/usr/lib/apt/apt.systemd.daily", "install"}},
	}
	chainDnf = []fakeProc{
		{pid: 900, ppid: 4242, tty: ttyPts0, comm: "ecssnap", start: 5000, argv: []string{"/usr/bin/ecssnap", "hook", "dnf"}},
		{pid: 4242, ppid: 600, tty: ttyPts0, comm: "dnf", start: 4000, argv: []string{"/usr/bin/python3", "/usr/bin/dnf", "-y", "upgrade", "openssl"}},
		{pid: 600, ppid: 1, tty: ttyPts0, comm: "bash", start: 100, argv: []string{"-bash"}},
	}
)

func TestFakeRootStat(t *testing.T) {
	root := fakeRoot(t, 900, chainApt...)
	st, err := procFS{root: root}.stat("self")
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{PID: 900, Comm: "ecssnap", PPID: 800, TTY: ttyPts0, Start: 5000}
	if st != want {
		t.Errorf("stat(self) = %+v, want %+v", st, want)
	}
	if got := fmt.Sprint(st.Start); got != "5000" {
		t.Errorf("start %s", got)
	}
}
