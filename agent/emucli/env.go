package emucli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Settings are the environment that points ecssnap (or any tool using the
// Alibaba Cloud SDKs' credential chain) at a running emulator, and keeps
// its job history, socket and freeze journal in the emulator's work
// directory instead of the host's /var/lib/ecssnap.
func (r Ready) Settings() [][2]string {
	s := [][2]string{
		{"ECSSNAP_METADATA_ENDPOINT", r.IMDS},
		{"ECSSNAP_API_ENDPOINT", r.API},
		{"ALIBABA_CLOUD_ACCESS_KEY_ID", r.AccessKeyID},
		{"ALIBABA_CLOUD_ACCESS_KEY_SECRET", r.AccessKeySecret},
		// credentials-go would otherwise ask the real metadata address
		// for a RAM role when the key is missing.
		{"ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true"},
		// The host's configuration is not the emulated instance's.
		{"ECSSNAP_CONFIG", "/dev/null"},
	}
	if r.WorkDir != "" {
		s = append(s,
			[2]string{"ECSSNAP_STATE_DIR", filepath.Join(r.WorkDir, "state")},
			[2]string{"ECSSNAP_SOCKET", filepath.Join(r.WorkDir, "ecssnap.sock")},
			[2]string{"ECSSNAP_FREEZE_JOURNAL", filepath.Join(r.WorkDir, "freeze.json")},
			[2]string{"ECSSNAP_HOOKS_DIR", filepath.Join(r.WorkDir, "hooks.d")},
		)
	}
	if r.CAFile != "" {
		s = append(s, [2]string{"SSL_CERT_FILE", r.CAFile})
	}
	if r.GuestRoot != "" {
		// With --data-dir the emulated disks are this machine's loop
		// devices, seen through the guest view.
		s = append(s, [2]string{"ECSSNAP_ROOT", r.GuestRoot})
	}
	s = append(s, [2]string{"ECSSNAP_EMU_ADMIN", r.Admin})
	if r.PID != 0 {
		s = append(s, [2]string{"ECSSNAP_EMU_PID", fmt.Sprint(r.PID)})
	}
	return s
}

// writeEnv writes the settings as POSIX shell, ready for eval or source.
func writeEnv(w io.Writer, r Ready) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# ecssnap-emu: instance %s in %s", r.InstanceID, r.RegionID)
	if r.PID != 0 {
		fmt.Fprintf(&b, "; stop it with: kill %d", r.PID)
	}
	b.WriteString("\n")
	for _, kv := range r.Settings() {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// detachWait bounds how long --detach waits for the emulator to be ready.
const detachWait = 15 * time.Second

// detach starts the emulator as a background process of its own session
// (args without --detach), waits until it is ready, prints its ready line
// or settings with its PID, and returns: `eval "$(ecssnap-emu --detach
// --env)"` then works, as the process left running holds no end of the
// caller's pipe. Its log is emu.log in its work directory.
func detach(args []string, env bool, stdout, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "ecssnap-emu: --detach: %v\n", err)
		return exitFail
	}
	dir, err := os.MkdirTemp("", "ecssnap-emu-")
	if err != nil {
		fmt.Fprintf(stderr, "ecssnap-emu: --detach: %v\n", err)
		return exitFail
	}
	logPath := filepath.Join(dir, "emu.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(dir)
		fmt.Fprintf(stderr, "ecssnap-emu: --detach: %v\n", err)
		return exitFail
	}
	defer logFile.Close()
	childArgs := slices.DeleteFunc(slices.Clone(args), func(a string) bool {
		return a == "--detach" || a == "-detach" || a == "--env" || a == "-env"
	})
	childArgs = append(childArgs, "--work-dir", dir)
	cmd := exec.Command(exe, childArgs...)
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		fmt.Fprintf(stderr, "ecssnap-emu: --detach: %v\n", err)
		return exitFail
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		fmt.Fprintf(stderr, "ecssnap-emu: --detach: %v\n", err)
		return exitFail
	}
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(pipe).ReadString('\n')
		lines <- line
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(detachWait):
	}
	var ready Ready
	if err := json.Unmarshal([]byte(line), &ready); err != nil || ready.API == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		log, _ := os.ReadFile(logPath)
		os.RemoveAll(dir)
		fmt.Fprintf(stderr, "ecssnap-emu: --detach: the emulator did not start: %s\n", lastLine(log))
		return exitFail
	}
	ready.PID = cmd.Process.Pid
	// The emulator writes nothing more to stdout; it runs on alone.
	_ = cmd.Process.Release()
	return printReady(stdout, stderr, ready, env)
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if l := lines[len(lines)-1]; l != "" {
		return l
	}
	return "no output"
}

// printReady prints the ready line, or the settings with --env.
func printReady(stdout, stderr io.Writer, ready Ready, env bool) int {
	var err error
	if env {
		err = writeEnv(stdout, ready)
	} else {
		var line []byte
		if line, err = json.Marshal(ready); err == nil {
			_, err = fmt.Fprintf(stdout, "%s\n", line)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "ecssnap-emu: write ready line: %v\n", err)
		return exitFail
	}
	return exitOK
}
