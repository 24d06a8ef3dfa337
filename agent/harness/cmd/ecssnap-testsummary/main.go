// Command ecssnap-testsummary runs `go test -json ...` (its arguments) and
// prints the readable output and the closing summary of
// agent/harness/testsummary. It exits with go test's status, or 1 if a
// test failed although go test said otherwise. `make test` uses it.
package main

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/ecssnap/ecssnap/agent/harness/testsummary"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ecssnap-testsummary go test -json [flags] [packages]")
		os.Exit(64)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ecssnap-testsummary: %v\n", err)
		os.Exit(1)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "ecssnap-testsummary: %v\n", err)
		os.Exit(1)
	}
	counts, readErr := testsummary.Summarize(out, os.Stdout)
	waitErr := cmd.Wait()
	counts.Write(os.Stdout)
	code := cmd.ProcessState.ExitCode()
	switch {
	case readErr != nil:
		fmt.Fprintf(os.Stderr, "ecssnap-testsummary: reading go test's output: %v\n", readErr)
		code = max(code, 1)
	case waitErr != nil && code < 0:
		fmt.Fprintf(os.Stderr, "ecssnap-testsummary: %v\n", waitErr)
		code = 1
	case code == 0 && (counts.Failed > 0 || counts.FailedPackages > 0):
		code = 1
	}
	os.Exit(code)
}
