// Package testenv gates tests on what the machine offers: root, a tool on
// PATH, a private network namespace. A gated test skips with a message on a
// developer machine and fails instead when CI=true, because CI runs as root
// with every tool installed and a skip there would hide a missing capability.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true), where a missing
// capability is a failure rather than a reason to skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable skips t with reason, or fails it under CI.
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true but %s", reason)
	}
	t.Skip(reason)
}

// RequireRoot skips (or fails under CI) unless the test runs as uid 0.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "this test needs root (loop devices, freezing, namespaces); run as root to include it")
	}
}

// RequireTool skips (or fails under CI) unless every named program is on PATH.
func RequireTool(t testing.TB, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			Unavailable(t, name+" is not installed")
		}
	}
}
