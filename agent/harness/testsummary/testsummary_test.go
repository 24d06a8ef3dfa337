package testsummary

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestSummarizeRealGoTest runs go test -json on a package with a test of
// each outcome and checks what a person reads.
func TestSummarizeRealGoTest(t *testing.T) {
	cmd := exec.Command("go", "test", "-json", "-count=1", "./testdata/sample")
	raw, err := cmd.Output()
	if _, ok := err.(*exec.ExitError); !ok && err != nil {
		t.Fatalf("go test: %v", err)
	}
	var out bytes.Buffer
	c, err := Summarize(bytes.NewReader(raw), &out)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(&out)
	got := out.String()
	if c.Passed != 3 || c.Failed != 1 || c.Skipped != 2 || c.FailedPackages != 0 {
		t.Errorf("counts %+v", c)
	}
	for _, want := range []string{
		"--- FAIL: TestFails", "the value was 3, want 4", // a failing test's output
		"FAIL\tgithub.com/ecssnap/ecssnap/agent/harness/testsummary/testdata/sample", // its package line
		"testdata/sample TestSkipsWithReason: needs root (run as root, or CI=true fails it)\n",
		"testdata/sample TestSubtests/skipped: mkfs.btrfs is not installed\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, noise := range []string{"chatter", "=== RUN", "--- PASS"} {
		if strings.Contains(got, noise) {
			t.Errorf("output has %q:\n%s", noise, got)
		}
	}
	if !strings.HasSuffix(got, "\ntests: 3 passed, 1 failed, 2 skipped\n") {
		t.Errorf("the closing line is not last:\n%s", got)
	}
}

// A package that fails outside any test (here: does not build) is counted
// and its build output shown.
func TestSummarizeBuildFailure(t *testing.T) {
	stream := `{"ImportPath":"example.com/broken [example.com/broken.test]","Action":"build-output","Output":"broken.go:3:1: syntax error\n"}
{"ImportPath":"example.com/broken [example.com/broken.test]","Action":"build-fail"}
{"Action":"start","Package":"example.com/broken"}
{"Action":"output","Package":"example.com/broken","Output":"FAIL\texample.com/broken [build failed]\n"}
{"Action":"fail","Package":"example.com/broken","FailedBuild":"example.com/broken [example.com/broken.test]"}
`
	var out bytes.Buffer
	c, err := Summarize(strings.NewReader(stream), &out)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(&out)
	if c.FailedPackages != 1 || !strings.Contains(out.String(), "syntax error") || !strings.Contains(out.String(), "[build failed]") {
		t.Errorf("counts %+v, output:\n%s", c, out.String())
	}
}
