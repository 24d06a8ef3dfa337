package hooks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// TestUntrustedPathsAreRefused plants, in the ways an unprivileged user
// could, a symlink that leads root to run a root-owned program: every way
// is refused and reported, and the program does not run. Before, only the
// final file's owner and mode were checked, through the link, so each of
// these ran its target as root.
func TestUntrustedPathsAreRefused(t *testing.T) {
	testenv.RequireRoot(t)
	const nobody = 65534
	base := t.TempDir() // 0700 root, under sticky /tmp
	mkdir := func(path string, mode os.FileMode) string {
		t.Helper()
		if err := os.MkdirAll(path, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	marker := filepath.Join(base, "ran")
	// A root-owned program in a safe place: what the attacker wants run.
	safe := mkdir(filepath.Join(base, "safe"), 0o755)
	target := writeScript(t, safe, "tool", `echo "$0" >>`+marker+"\n", 0o755)
	link := func(dir, name, to string, owner int) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.Symlink(to, p); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(p, owner, owner); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name  string
		setup func(t *testing.T) (hooksDir string)
		want  string // in the report's error
	}{
		{"link in a directory others can write", func(t *testing.T) string {
			d := mkdir(filepath.Join(base, "open", "hooks.d"), 0o777)
			link(d, "50-planted", target, 0)
			return d
		}, "hooks.d refused (directory " + filepath.Join(base, "open", "hooks.d") + " is writable by group or others"},
		{"directory of another user", func(t *testing.T) string {
			d := mkdir(filepath.Join(base, "theirs", "hooks.d"), 0o755)
			if err := os.Chown(d, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			link(d, "50-planted", target, 0)
			return d
		}, "is owned by uid 65534"},
		{"parent others can write", func(t *testing.T) string {
			mkdir(filepath.Join(base, "openparent"), 0o777)
			d := mkdir(filepath.Join(base, "openparent", "hooks.d"), 0o755)
			link(d, "50-planted", target, 0)
			return d
		}, "directory " + filepath.Join(base, "openparent") + " is writable by group or others"},
		{"link owned by another user", func(t *testing.T) string {
			d := mkdir(filepath.Join(base, "nobodylink", "hooks.d"), 0o755)
			link(d, "50-planted", target, nobody)
			return d
		}, "50-planted refused (a symlink owned by uid 65534"},
		{"target through a directory others can write", func(t *testing.T) string {
			open := mkdir(filepath.Join(base, "opentarget"), 0o777)
			sub := mkdir(filepath.Join(open, "bin"), 0o755)
			tool := writeScript(t, sub, "tool", `echo "$0" >>`+marker+"\n", 0o755)
			d := mkdir(filepath.Join(base, "linkout", "hooks.d"), 0o755)
			link(d, "50-link", tool, 0)
			return d
		}, "50-link refused (symlink target: directory " + filepath.Join(base, "opentarget") + " is writable by group or others"},
		{"target through a link of another user", func(t *testing.T) string {
			hop := mkdir(filepath.Join(base, "hop"), 0o755)
			link(hop, "tool", target, nobody) // a second hop they own
			d := mkdir(filepath.Join(base, "twohops", "hooks.d"), 0o755)
			link(d, "50-link", filepath.Join(hop, "tool"), 0)
			return d
		}, "symlink " + filepath.Join(base, "hop", "tool") + " is owned by uid 65534"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(marker)
			dir := tt.setup(t)
			rep := (&Runner{Dir: dir}).Run(context.Background(), PreFreeze, Env{})
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("the planted program ran as root")
			}
			err := rep.Err()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("report error %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

// TestTrustedLinksRun: links root made, to programs on root's paths, run,
// through symlinked directories (/bin -> usr/bin) and relative links too.
func TestTrustedLinksRun(t *testing.T) {
	testenv.RequireRoot(t)
	base := t.TempDir()
	marker := filepath.Join(base, "ran")
	usrBin := filepath.Join(base, "usr", "bin")
	if err := os.MkdirAll(usrBin, 0o755); err != nil {
		t.Fatal(err)
	}
	writeScript(t, usrBin, "tool", `echo "$(basename "$0")" >>`+marker+"\n", 0o755)
	if err := os.Symlink("usr/bin", filepath.Join(base, "bin")); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "etc", "hooks.d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, to := range map[string]string{
		"10-absolute": filepath.Join(base, "bin", "tool"),
		"20-relative": "../../bin/../bin/tool", // bin/.. is usr, as the kernel has it,
	} {
		if err := os.Symlink(to, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	rep := (&Runner{Dir: dir}).Run(context.Background(), PreFreeze, Env{})
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(marker); string(got) != "10-absolute\n20-relative\n" {
		t.Errorf("ran %q", got)
	}
}
