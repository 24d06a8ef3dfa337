//go:build unix

package store

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The lock test re-executes this test binary as a second process. In that
// role TestMain opens the store named by the environment and reports.
const (
	helperEnv    = "ECSSNAP_STORE_HELPER"
	helperDirEnv = "ECSSNAP_STORE_HELPER_DIR"
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "hold":
		os.Exit(helperHold(os.Getenv(helperDirEnv)))
	case "try":
		os.Exit(helperTry(os.Getenv(helperDirEnv)))
	}
	os.Exit(2)
}

// helperHold opens the store, says so, and holds it until stdin closes or
// the process is killed.
func helperHold(dir string) int {
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = s.Close()
	return 0
}

// helperTry opens the store once and reports the outcome.
func helperTry(dir string) int {
	s, err := Open(dir, Options{})
	var locked *LockedError
	switch {
	case errors.As(err, &locked) && errors.Is(err, ErrLocked):
		fmt.Printf("locked pid=%d\n", locked.PID)
	case err != nil:
		fmt.Println("error", err)
	default:
		_ = s.Close()
		fmt.Println("opened")
	}
	return 0
}

func helper(t *testing.T, role, dir string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+role, helperDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	return cmd
}

func TestLockExcludesAnotherProcess(t *testing.T) {
	dir := t.TempDir()

	// Another process holds the store: Open fails naming it, reading works.
	hold := helper(t, "hold", dir)
	stdin, _ := hold.StdinPipe()
	stdout, _ := hold.StdoutPipe()
	if err := hold.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hold.Process.Kill(); _ = hold.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	_, err = Open(dir, Options{})
	var locked *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &locked) || locked.PID != hold.Process.Pid {
		t.Fatalf("Open while another process holds it = %v; want ErrLocked naming pid %d", err, hold.Process.Pid)
	}
	if msg := err.Error(); !strings.Contains(msg, "in use by another process (pid") || !strings.Contains(msg, "systemctl stop ecssnap") {
		t.Errorf("ErrLocked message does not say who and what to do: %q", msg)
	}
	if _, err := OpenReadOnly(dir, Options{}); err != nil {
		t.Fatalf("OpenReadOnly while locked: %v", err)
	}

	// A holder that dies without closing (SIGKILL) releases the lock.
	_ = stdin // kept open so that the helper only ends by the kill
	if err := hold.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = hold.Wait()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after the holder was killed: %v", err)
	}

	// And the other way round: this process holds it, the helper is refused.
	out, err := helper(t, "try", dir).Output()
	if want := fmt.Sprintf("locked pid=%d\n", os.Getpid()); err != nil || string(out) != want {
		t.Fatalf("helper Open while we hold the store: %q, %v; want %q", out, err, want)
	}
	_ = s.Close()
	out, err = helper(t, "try", dir).Output()
	if err != nil || string(out) != "opened\n" {
		t.Fatalf("helper Open after Close: %q, %v", out, err)
	}
}
