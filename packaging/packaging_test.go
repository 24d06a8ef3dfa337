// Package packaging tests ecssnap's .deb and .rpm: it builds them with
// build-packages (nfpm from packaging/tools, offline: `make deps` fetched
// its modules) and inspects them with the distributions' own tools,
// dpkg-deb, rpm, lintian and systemd-analyze. A missing tool skips a test
// with a message, or fails it under CI=true.
package packaging

import (
	"bytes"
	"cmp"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ecssnap/ecssnap/agent/daemon"
	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// The version the test packages are built from, and what pkg-version makes
// of it for both formats.
const (
	testVersion    = "v1.2.3-4-gabc1234"
	testPkgVersion = "1.2.3+4.gabc1234"
)

// archs maps Debian architectures to RPM's and to the ELF machine.
var archs = []struct {
	deb, rpm string
	machine  elf.Machine
}{
	{"amd64", "x86_64", elf.EM_X86_64},
	{"arm64", "aarch64", elf.EM_AARCH64},
}

func debPath(dir, arch string) string {
	return filepath.Join(dir, "ecssnap_"+testPkgVersion+"_"+arch+".deb")
}

func rpmPath(dir, arch string) string {
	return filepath.Join(dir, "ecssnap-"+testPkgVersion+"."+arch+".rpm")
}

// built holds the packages, built once for every test.
var built struct {
	once        sync.Once
	dir         string
	unavailable string
	err         error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// packages builds the four packages (once) and returns their directory.
func packages(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		for _, tool := range []string{"go", "gzip", "git"} {
			if _, err := exec.LookPath(tool); err != nil {
				built.unavailable = tool + " is not installed"
				return
			}
		}
		env := append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=readonly")
		// Offline, nfpm builds only from the module cache.
		dl := exec.Command("go", "mod", "download", "-modfile=tools/go.mod")
		dl.Env = env
		if out, err := dl.CombinedOutput(); err != nil {
			built.unavailable = "nfpm's modules are not in the module cache (run `make deps`): " + firstLine(out)
			return
		}
		dir, err := os.MkdirTemp("", "ecssnap-packages-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		cmd := exec.Command("./build-packages", testVersion, "amd64", "arm64")
		cmd.Env = append(env, "DIST="+dir, "SOURCE_DATE_EPOCH=1700000000")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("build-packages: %v\n%s", err, out)
		}
	})
	if built.unavailable != "" {
		testenv.Unavailable(t, built.unavailable)
	}
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

// file is one entry of a package's file list.
type file struct {
	mode   string // as ls shows it: -rw-r--r--, lrwxrwxrwx, drwxr-xr-x
	owner  string // user/group
	target string // of a symlink
	config string // rpm's file flags (c: config, n: noreplace); deb: "c" for a conffile
}

// The files both packages must hold, with their modes; a symlink's mode
// is "l" and its target is checked instead.
var common = map[string]file{
	"/usr/bin/ecssnap":                                        {mode: "-rwxr-xr-x"},
	"/usr/bin/snapshot-now":                                   {mode: "l", target: "ecssnap"},
	"/usr/bin/ecssnap-pre-upgrade":                            {mode: "-rwxr-xr-x"},
	"/usr/lib/systemd/system/ecssnap.service":                 {mode: "-rw-r--r--"},
	"/usr/lib/systemd/system-preset/80-ecssnap.preset":        {mode: "-rw-r--r--"},
	"/etc/ecssnap/config.yaml":                                {mode: "-rw-r--r--", config: "cn"},
	"/etc/ecssnap/hooks.d":                                    {mode: "drwxr-xr-x"},
	"/etc/apt/apt.conf.d/80ecssnap":                           {mode: "-rw-r--r--", config: "c"},
	"/usr/lib/python3.6/site-packages/dnf-plugins/ecssnap.py": {mode: "-rw-r--r--"},
	"/etc/dnf/plugins/ecssnap.conf":                           {mode: "-rw-r--r--", config: "cn"},
	"/etc/dnf/libdnf5-plugins/actions.d/ecssnap.actions":      {mode: "-rw-r--r--", config: "cn"},
	"/usr/lib/yum-plugins/ecssnap.py":                         {mode: "-rw-r--r--"},
	"/etc/yum/pluginconf.d/ecssnap.conf":                      {mode: "-rw-r--r--", config: "cn"},
	"/usr/lib/zypp/plugins/commit/ecssnap":                    {mode: "-rwxr-xr-x"},
	"/usr/share/libalpm/hooks/ecssnap.hook":                   {mode: "-rw-r--r--"},
	"/usr/share/man/man8/ecssnap.8.gz":                        {mode: "-rw-r--r--"},
	"/usr/share/man/man8/snapshot-now.8.gz":                   {mode: "l", target: "ecssnap.8.gz"},
	"/usr/share/doc/ecssnap/ram-policy.json":                  {mode: "-rw-r--r--"},
	"/usr/share/doc/ecssnap/ram-policy-rollback.json":         {mode: "-rw-r--r--"},
	"/usr/share/doc/ecssnap/README.hooks":                     {mode: "-rw-r--r--"},
	"/usr/share/bash-completion/completions/ecssnap":          {mode: "-rw-r--r--"},
	"/usr/share/bash-completion/completions/snapshot-now":     {mode: "l", target: "ecssnap"},
	"/usr/share/fish/vendor_completions.d/ecssnap.fish":       {mode: "-rw-r--r--"},
	"/usr/share/fish/vendor_completions.d/snapshot-now.fish":  {mode: "l", target: "ecssnap.fish"},
}

var debOnly = map[string]file{
	"/usr/lib/systemd/system/apt-daily-upgrade.service.d/ecssnap.conf": {mode: "-rw-r--r--"},
	"/usr/share/doc/ecssnap/copyright":                                 {mode: "-rw-r--r--"},
	"/usr/share/doc/ecssnap/changelog.gz":                              {mode: "-rw-r--r--"},
	"/usr/share/zsh/vendor-completions/_ecssnap":                       {mode: "-rw-r--r--"},
	"/usr/share/lintian/overrides/ecssnap":                             {mode: "-rw-r--r--"},
}

var rpmOnly = map[string]file{
	"/usr/share/licenses/ecssnap/copyright":  {mode: "-rw-r--r--"},
	"/usr/share/zsh/site-functions/_ecssnap": {mode: "-rw-r--r--"},
	"/etc/ecssnap":                           {mode: "drwxr-xr-x"},
}

func checkFiles(t *testing.T, pkg string, got map[string]file, want ...map[string]file) {
	t.Helper()
	for _, w := range want {
		for path, wf := range w {
			gf, ok := got[path]
			switch {
			case !ok:
				t.Errorf("%s: no %s", pkg, path)
			case gf.owner != "root/root":
				t.Errorf("%s: %s is owned by %s, want root/root", pkg, path, gf.owner)
			case wf.mode == "l":
				if !strings.HasPrefix(gf.mode, "l") || gf.target != wf.target {
					t.Errorf("%s: %s is %s -> %q, want a symlink to %s", pkg, path, gf.mode, gf.target, wf.target)
				}
			case gf.mode != wf.mode:
				t.Errorf("%s: %s has mode %s, want %s", pkg, path, gf.mode, wf.mode)
			}
		}
	}
}

// debFiles parses `dpkg-deb -c`: "mode user/group size date time ./path [-> target]".
func debFiles(t *testing.T, deb string) map[string]file {
	files := map[string]file{}
	for line := range strings.Lines(run(t, "dpkg-deb", "-c", deb)) {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		path := strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")
		e := file{mode: f[0], owner: f[1]}
		if len(f) >= 8 && f[6] == "->" {
			e.target = f[7]
		}
		files[path] = e
	}
	return files
}

func TestDebContents(t *testing.T) {
	testenv.RequireTool(t, "dpkg-deb")
	dir := packages(t)
	for _, a := range archs {
		deb := debPath(dir, a.deb)
		files := debFiles(t, deb)
		checkFiles(t, filepath.Base(deb), files, common, debOnly)
		for path := range rpmOnly {
			if _, ok := files[path]; ok && !strings.HasPrefix(path, "/etc/ecssnap") {
				t.Errorf("%s: %s belongs in the rpm only", filepath.Base(deb), path)
			}
		}

		fields := run(t, "dpkg-deb", "-f", deb, "Package", "Version", "Architecture", "Depends", "Section")
		for _, want := range []string{"Package: ecssnap", "Version: " + testPkgVersion, "Architecture: " + a.deb,
			"Depends: init-system-helpers (>= 1.54~)", "Section: admin"} {
			if !strings.Contains(fields, want+"\n") {
				t.Errorf("%s: control lacks %q:\n%s", filepath.Base(deb), want, fields)
			}
		}

		// Control files: every file under /etc is a conffile, and the
		// maintainer scripts are executable shell that parses.
		ctrl := t.TempDir()
		run(t, "dpkg-deb", "-e", deb, ctrl)
		conffiles, err := os.ReadFile(filepath.Join(ctrl, "conffiles"))
		if err != nil {
			t.Fatal(err)
		}
		for path, f := range common {
			if strings.HasPrefix(path, "/etc/") && f.mode[0] == '-' && !slices.Contains(strings.Fields(string(conffiles)), path) {
				t.Errorf("%s: %s is not a conffile:\n%s", filepath.Base(deb), path, conffiles)
			}
		}
		for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
			p := filepath.Join(ctrl, s)
			fi, err := os.Stat(p)
			if err != nil {
				t.Errorf("%s: no %s: %v", filepath.Base(deb), s, err)
				continue
			}
			if fi.Mode().Perm()&0o111 == 0 {
				t.Errorf("%s: %s is not executable (%v)", filepath.Base(deb), s, fi.Mode())
			}
			if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
				t.Errorf("%s: %s does not parse: %v\n%s", filepath.Base(deb), s, err, out)
			}
		}
	}
}

func TestRPMContents(t *testing.T) {
	testenv.RequireTool(t, "rpm")
	dir := packages(t)
	for _, a := range archs {
		rpm := rpmPath(dir, a.rpm)
		name := filepath.Base(rpm)
		meta := run(t, "rpm", "-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE}\n", rpm)
		if want := fmt.Sprintf("ecssnap %s 1 %s ", testPkgVersion, a.rpm); !strings.HasPrefix(meta, want) {
			t.Errorf("%s: metadata %q, want %q...", name, meta, want)
		}
		files := map[string]file{}
		list := run(t, "rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME} %{FILEFLAGS:fflags}- %{FILENAMES} %{FILELINKTOS}\n]", rpm)
		for line := range strings.Lines(list) {
			f := strings.Fields(line)
			if len(f) < 4 {
				continue
			}
			e := file{mode: f[0], owner: f[1], config: strings.TrimSuffix(f[2], "-")}
			if len(f) >= 5 {
				e.target = f[4]
			}
			files[f[3]] = e
		}
		checkFiles(t, name, files, common, rpmOnly)
		for path, w := range common {
			if g := files[path]; w.config != "" && g.config != w.config && !strings.Contains(g.config, w.config) {
				t.Errorf("%s: %s has file flags %q, want %q (c: config, n: noreplace)", name, path, g.config, w.config)
			}
		}
		if _, ok := files["/usr/lib/systemd/system/apt-daily-upgrade.service.d/ecssnap.conf"]; ok {
			t.Errorf("%s: ships the apt-daily-upgrade drop-in, which is Debian's", name)
		}
		// `rpm -qpc` is what an administrator asks: the config files.
		cfg := run(t, "rpm", "-qpc", rpm)
		if !strings.Contains(cfg, "/etc/ecssnap/config.yaml\n") {
			t.Errorf("%s: rpm -qpc does not list the configuration:\n%s", name, cfg)
		}
		scripts := run(t, "rpm", "-qp", "--scripts", rpm)
		for _, want := range []string{"preinstall scriptlet", "groupadd --system ecssnap", "postinstall scriptlet",
			"preuninstall scriptlet", "postuninstall scriptlet"} {
			if !strings.Contains(scripts, want) {
				t.Errorf("%s: scripts lack %q:\n%s", name, want, scripts)
			}
		}
	}
}

// extract unpacks a .deb into a temporary directory.
func extract(t *testing.T, deb string) string {
	t.Helper()
	dir := t.TempDir()
	run(t, "dpkg-deb", "-x", deb, dir)
	return dir
}

// The packaged files are the repository's, byte for byte, and the binary
// is the architecture's, stamped with the version.
func TestPackagedFiles(t *testing.T) {
	testenv.RequireTool(t, "dpkg-deb")
	dir := packages(t)
	for _, a := range archs {
		root := extract(t, debPath(dir, a.deb))
		same := map[string]string{
			"../agent/daemon/ecssnap.service":                  "usr/lib/systemd/system/ecssnap.service",
			"config.yaml":                                      "etc/ecssnap/config.yaml",
			"ram-policy.json":                                  "usr/share/doc/ecssnap/ram-policy.json",
			"ram-policy-rollback.json":                         "usr/share/doc/ecssnap/ram-policy-rollback.json",
			"hooks/apt/80ecssnap":                              "etc/apt/apt.conf.d/80ecssnap",
			"hooks/zypper/ecssnap":                             "usr/lib/zypp/plugins/commit/ecssnap",
			"hooks/pacman/ecssnap.hook":                        "usr/share/libalpm/hooks/ecssnap.hook",
			"../scripts/pre-upgrade":                           "usr/bin/ecssnap-pre-upgrade",
			"lintian-overrides":                                "usr/share/lintian/overrides/ecssnap",
			"hooks/dnf5/ecssnap.actions":                       "etc/dnf/libdnf5-plugins/actions.d/ecssnap.actions",
			"hooks/yum/ecssnap.py":                             "usr/lib/yum-plugins/ecssnap.py",
			"hooks/dnf/ecssnap.py":                             "usr/lib/python3.6/site-packages/dnf-plugins/ecssnap.py",
			"80-ecssnap.preset":                                "usr/lib/systemd/system-preset/80-ecssnap.preset",
			"hooks/dnf/ecssnap.conf":                           "etc/dnf/plugins/ecssnap.conf",
			"hooks/yum/ecssnap.conf":                           "etc/yum/pluginconf.d/ecssnap.conf",
			"systemd/apt-daily-upgrade.service.d/ecssnap.conf": "usr/lib/systemd/system/apt-daily-upgrade.service.d/ecssnap.conf",
		}
		for src, dst := range same {
			want, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(root, dst))
			if err != nil {
				t.Errorf("%s: %v", a.deb, err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: /%s differs from %s", a.deb, dst, src)
			}
		}
		unit, _ := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system/ecssnap.service"))
		if string(unit) != daemon.UnitFile {
			t.Errorf("%s: the packaged unit differs from the one the binary embeds", a.deb)
		}

		bin := filepath.Join(root, "usr/bin/ecssnap")
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		if f.Machine != a.machine {
			t.Errorf("%s: /usr/bin/ecssnap is for %v, want %v", a.deb, f.Machine, a.machine)
		}
		f.Close()
		if a.machine == hostMachine(t) {
			for _, arg := range []string{"--version", "version"} {
				out, err := exec.Command(bin, arg).CombinedOutput()
				if want := "ecssnap " + testVersion + "\n"; err != nil || string(out) != want {
					t.Errorf("ecssnap %s: %q, %v; want %q", arg, out, err, want)
				}
			}
		}
	}
}

// hostMachine is the ELF machine of the running test binary.
func hostMachine(t *testing.T) elf.Machine {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return f.Machine
}

// lintian's errors and warnings are fixed or overridden (with a reason)
// in lintian-overrides.
func TestLintian(t *testing.T) {
	testenv.RequireTool(t, "lintian", "dpkg-deb")
	dir := packages(t)
	for _, a := range archs {
		deb := debPath(dir, a.deb)
		// lintian exits non-zero on findings; its output is what counts.
		out, _ := exec.Command("lintian", "--no-tag-display-limit", deb).CombinedOutput()
		var findings []string
		for line := range strings.Lines(string(out)) {
			if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
				findings = append(findings, strings.TrimSpace(line))
			}
		}
		if len(findings) > 0 {
			t.Errorf("lintian %s: fix these or override them with a reason in packaging/lintian-overrides:\n%s",
				filepath.Base(deb), strings.Join(findings, "\n"))
		}
	}
}

// systemd accepts the packaged unit, naming the packaged binary.
func TestPackagedUnitVerifies(t *testing.T) {
	testenv.RequireTool(t, "systemd-analyze", "dpkg-deb")
	root := extract(t, debPath(packages(t), "amd64"))
	unit, err := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system/ecssnap.service"))
	if err != nil {
		t.Fatal(err)
	}
	const exec0 = "ExecStart=/usr/bin/ecssnap daemon"
	if !bytes.Contains(unit, []byte(exec0)) {
		t.Fatalf("the unit does not start /usr/bin/ecssnap daemon:\n%s", unit)
	}
	// The architecture's binary may not run here; systemd only checks
	// that the program exists and is executable.
	unit = bytes.Replace(unit, []byte(exec0), []byte("ExecStart="+filepath.Join(root, "usr/bin/ecssnap")+" daemon"), 1)
	path := filepath.Join(t.TempDir(), "ecssnap.service")
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	preset, err := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system-preset/80-ecssnap.preset"))
	if err != nil || !regexp.MustCompile(`(?m)^enable ecssnap\.service$`).Match(preset) {
		t.Errorf("the preset does not enable ecssnap.service: %v\n%s", err, preset)
	}
}

// ramPolicy is the shape of the RAM policy documents in this folder.
type ramPolicy struct {
	Version   string
	Statement []struct {
		Effect    string
		Action    []string
		Resource  string
		Condition map[string]map[string]string
	}
}

// The RAM policy allows exactly the actions ecssnap calls, and deleting
// (and tagging) only what ecssnap marked as managed.
func TestRAMPolicy(t *testing.T) {
	data, err := os.ReadFile("ram-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var policy ramPolicy
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&policy); err != nil {
		t.Fatalf("ram-policy.json is not a policy document of the expected shape: %v", err)
	}
	if policy.Version != "1" {
		t.Errorf("Version %q: RAM policies are version \"1\"", policy.Version)
	}
	// Deletes reach only ecssnap's own, managed snapshots. Tagging cannot be
	// guarded the same way: the members of a snapshot group are created
	// untagged and ecssnap tags them afterwards; it is limited to snapshots.
	guarded := map[string]bool{"ecs:DeleteSnapshot": true, "ecs:DeleteSnapshotGroup": true, "ecs:DeleteDisk": true}
	wantCondition := map[string]map[string]string{"StringEquals": {"acs:ResourceTag/" + job.TagManaged: "true"}}
	wantResource := map[string]string{"ecs:TagResources": "acs:ecs:*:*:snapshot/*"}
	allowed := map[string]bool{}
	for i, st := range policy.Statement {
		if st.Effect != "Allow" {
			t.Errorf("statement %d: Effect %q", i, st.Effect)
		}
		for _, a := range st.Action {
			if want := cmp.Or(wantResource[a], "*"); st.Resource != want {
				t.Errorf("%s is allowed on Resource %q, want %q", a, st.Resource, want)
			}
		}
		for _, a := range st.Action {
			if strings.Contains(a, "*") {
				t.Errorf("statement %d: wildcard action %s", i, a)
			}
			if allowed[a] {
				t.Errorf("%s is allowed twice", a)
			}
			allowed[a] = true
			if guarded[a] && fmt.Sprint(st.Condition) != fmt.Sprint(wantCondition) {
				t.Errorf("%s is allowed under condition %v, want %v", a, st.Condition, wantCondition)
			}
		}
	}
	var want []string
	for _, a := range cloud.ProbeActions {
		want = append(want, "ecs:"+a)
	}
	got := make([]string, 0, len(allowed))
	for a := range allowed {
		got = append(got, a)
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("the policy allows %v, ecssnap calls %v", got, want)
	}
}

// The shell completions are the packaged binary's own (`ecssnap
// completion SHELL`), and completing through the bash script, run by a
// real bash, offers the commands `ecssnap --help` lists and the flags each
// command's --help lists, for ecssnap and for snapshot-now.
func TestCompletionsMatchCommands(t *testing.T) {
	testenv.RequireTool(t, "dpkg-deb")
	testenv.RequireTool(t, "bash")
	// bash-completion's helpers, which the script uses as in a user's shell.
	const bashCompletion = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(bashCompletion); err != nil {
		testenv.Unavailable(t, "bash-completion is not installed")
	}
	dir := packages(t)
	arch := "amd64"
	if hostMachine(t) == elf.EM_AARCH64 {
		arch = "arm64"
	}
	root := extract(t, debPath(dir, arch))
	bindir := filepath.Join(root, "usr/bin")
	if err := os.Symlink("ecssnap", filepath.Join(bindir, "snapshot-now")); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	// Nothing of this machine's configuration or freeze journal.
	env := append(os.Environ(), "ECSSNAP_CONFIG=/dev/null", "ECSSNAP_STATE_DIR="+t.TempDir(),
		"ECSSNAP_SOCKET="+filepath.Join(t.TempDir(), "none.sock"),
		"ECSSNAP_FREEZE_JOURNAL="+filepath.Join(t.TempDir(), "freeze.json"), "PATH="+bindir+":"+os.Getenv("PATH"))
	ecssnap := func(args ...string) string {
		cmd := exec.Command(filepath.Join(bindir, "ecssnap"), args...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ecssnap %s: %v", strings.Join(args, " "), err)
		}
		return string(out)
	}
	for shell, file := range map[string]string{
		"bash": "usr/share/bash-completion/completions/ecssnap",
		"zsh":  "usr/share/zsh/vendor-completions/_ecssnap",
		"fish": "usr/share/fish/vendor_completions.d/ecssnap.fish",
	} {
		got, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != ecssnap("completion", shell) {
			t.Errorf("/%s is not what `ecssnap completion %s` prints", file, shell)
		}
	}
	// complete runs the packaged bash script on a command line (the cursor
	// at its end) and returns the words it offers.
	script := filepath.Join(root, "usr/share/bash-completion/completions/ecssnap")
	complete := func(line string) []string {
		words := strings.Fields(line)
		if strings.HasSuffix(line, " ") {
			words = append(words, "")
		}
		prog := fmt.Sprintf(`source %q
source %q
COMP_TYPE=9
COMP_WORDS=(%s); COMP_CWORD=%d; COMP_LINE=%q; COMP_POINT=${#COMP_LINE}
__start_ecssnap
printf '%%s\n' "${COMPREPLY[@]}"`, bashCompletion, script, quoteWords(words), len(words)-1, line)
		cmd := exec.Command("bash", "--norc", "--noprofile", "-c", prog)
		cmd.Env = env
		// stderr has compopt's complaint that no completion is running.
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bash completion of %q: %v", line, err)
		}
		var got []string
		for _, w := range strings.Fields(string(out)) {
			got = append(got, w)
		}
		sort.Strings(got)
		return got
	}

	// The commands: "  NAME  summary" lines of the groups before "Flags:".
	var commands []string
	list, _, _ := strings.Cut(ecssnap("--help"), "\nFlags:")
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z-]+)  +\S`).FindAllStringSubmatch(list, -1) {
		commands = append(commands, m[1])
	}
	if len(commands) < 5 || !slices.Contains(commands, "now") {
		t.Fatalf("ecssnap --help lists too few commands: %v", commands)
	}
	sort.Strings(commands)
	if got := complete("ecssnap "); !slices.Equal(got, commands) {
		t.Errorf("ecssnap <TAB> offers %v; ecssnap --help lists %v", got, commands)
	}

	flagRE := regexp.MustCompile(`(?m)^\s+(?:-[a-z], )?(--[a-z-]+)`)
	for _, c := range commands {
		if c == "hook" || c == "help" || c == "completion" {
			continue // their words are the package manager's, a command, a shell
		}
		var want []string
		for _, f := range flagRE.FindAllStringSubmatch(ecssnap(c, "--help"), -1) {
			want = append(want, f[1])
		}
		sort.Strings(want)
		if got := complete("ecssnap " + c + " --"); !slices.Equal(got, want) {
			t.Errorf("ecssnap %s --<TAB> offers %v; ecssnap %s --help has %v", c, got, c, want)
		}
		if c == "now" {
			if got := complete("snapshot-now --"); !slices.Equal(got, want) {
				t.Errorf("snapshot-now --<TAB> offers %v; ecssnap now --help has %v", got, want)
			}
		}
	}
	if got, want := complete("ecssnap now --consistency "), []string{"app", "crash", "fs"}; !slices.Equal(got, want) {
		t.Errorf("--consistency <TAB> offers %v, want %v", got, want)
	}
}

// quoteWords quotes words for a bash array.
func quoteWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
