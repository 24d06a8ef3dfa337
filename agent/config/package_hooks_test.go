package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/agent/hook"
)

func TestPackageHooks(t *testing.T) {
	load := func(t *testing.T, body string) (Config, error) {
		t.Helper()
		p := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return Load(envOf(map[string]string{"ECSSNAP_CONFIG": p}))
	}

	cfg, err := load(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.PackageHooks.ModeFor("apt", false); got != hook.FailClosed {
		t.Errorf("default interactive apt: %s", got)
	}
	if got := cfg.PackageHooks.ModeFor("apt", true); got != hook.FailOpen {
		t.Errorf("default unattended apt: %s", got)
	}

	cfg, err = load(t, "package_hooks:\n  policy: {apt: fail-open, dnf.unattended: fail-closed}\n  wait_completed: true\n  in_chroot: run\n")
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.PackageHooks
	if p.ModeFor("apt", false) != hook.FailOpen || p.ModeFor("dnf", true) != hook.FailClosed || p.ModeFor("yum", false) != hook.FailClosed ||
		!p.WaitCompleted || p.InChroot != hook.RunAnyway || p.InContainer != hook.Skip {
		t.Errorf("policy %+v", p)
	}

	for body, want := range map[string]string{
		"package_hooks:\n  policy: {apt: maybe}\n":           `package_hooks.policy "apt": "maybe" is neither fail-closed nor fail-open`,
		"package_hooks:\n  policy: {apr: fail-open}\n":       `package_hooks.policy "apr": want a trigger`,
		"package_hooks:\n  policy: {apt.later: fail-open}\n": `package_hooks.policy "apt.later": want a trigger`,
		"package_hooks:\n  in_container: yes\n":              `package_hooks.in_container: "yes" is neither skip nor run`,
		"package_hooks:\n  wait: completed\n":                "field wait not found",
	} {
		_, err := load(t, body)
		var cerr *Error
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") || !asConfigError(err, &cerr) {
			t.Errorf("%q: error %v, want one line containing %q", body, err, want)
		}
	}
}

func asConfigError(err error, target **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*target = e
	}
	return ok
}
