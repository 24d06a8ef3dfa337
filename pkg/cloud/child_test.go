package cloud_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// childTest names, in a child process this test binary started, the one
// test the child runs: what the test needs once per process (Go reads
// HTTP_PROXY once; the decoders' warm-up happens once) starts from
// nothing there.
const childTest = "ECSSNAP_TEST_CLOUD_CHILD"

// runChild runs test alone in a child process of this test binary, with
// env added to this one's, and fails unless it passed.
func runChild(t *testing.T, test string, env ...string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	cmd.Env = append(append(os.Environ(), childTest+"="+test), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("child %s: %v\n%s", test, err, out)
	}
}

// onlyInChild skips t unless runChild started this process for it.
func onlyInChild(t *testing.T) {
	t.Helper()
	if os.Getenv(childTest) != t.Name() {
		t.Skip("runs only in a child process its parent test starts")
	}
}
