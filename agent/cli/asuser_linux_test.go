package cli_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// otherUser is a throwaway account in no group ecssnap knows, for tests
// that must see what a real non-member sees (the kernel's EACCES on the
// socket, the daemon's 403), and a copy of this test binary it may run.
type otherUser struct {
	name     string
	uid, gid string
	dir      string // 0755, for files the user must read
	bin      string // this test binary, executable by the user
}

// newOtherUser creates the account with useradd and removes it when t ends.
func newOtherUser(t *testing.T) *otherUser {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "useradd", "userdel", "setpriv")
	u := newUser(t, "ecssnapu")
	name := u.Username
	// go test builds in a 0700 directory: the user needs its own copy.
	dir, bin := testenv.ExecutableCopy(t)
	return &otherUser{name: name, uid: u.Uid, gid: u.Gid, dir: dir, bin: bin}
}

// newUser creates a throwaway system account named prefix and six random
// hex digits, with no home and the nologin shell, passing useradd the extra
// arguments too, and removes it when t ends. The newOtherUser and
// newMember accounts are both made so.
func newUser(t *testing.T, prefix string, extra ...string) *user.User {
	t.Helper()
	var b [3]byte
	_, _ = rand.Read(b[:])
	name := prefix + hex.EncodeToString(b[:])
	args := append([]string{"--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin"}, extra...)
	if out, err := exec.Command("useradd", append(args, name)...).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("new user %s: %v", name, err)
	}
	return u
}

// run runs `ecssnap args...` as the user with the environment vars and
// returns its exit code and output.
func (u *otherUser) run(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command("setpriv", append([]string{"--reuid", u.uid, "--regid", u.gid, "--clear-groups", u.bin}, args...)...)
	cmd.Env = append(os.Environ(), runCLIEnv+"=1", "HOME="+u.dir)
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run as %s: %v", u.name, err)
	}
	return code, out.String(), errOut.String()
}
