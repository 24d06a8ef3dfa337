//go:build unix

package cli

import (
	"os"
	"os/exec"
	"syscall"
)

// startFinisher starts this program again, detached in a session of its
// own with no terminal, to finish the handed-off job after this process
// has exited (a hook's package manager may kill its process group).
func (a *app) startFinisher() error {
	cmd := exec.Command(a.env.Self, finishCommand)
	cmd.Env = os.Environ()
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	return cmd.Process.Release()
}
