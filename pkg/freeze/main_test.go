package freeze

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"testing"
	"time"
)

// testRoleEnv makes the test binary, re-executed, play a part in a test:
// a writer, an agent that owns a session, a one-shot write probe.
const testRoleEnv = "ECSSNAP_FREEZE_TEST_ROLE"

func TestMain(m *testing.M) {
	// The same hook every main that can freeze must have.
	if os.Getenv(HelperEnv) != "" {
		os.Exit(RunHelper())
	}
	if role := os.Getenv(testRoleEnv); role != "" {
		os.Exit(runTestRole(role))
	}
	os.Exit(m.Run())
}

func runTestRole(role string) int {
	var err error
	switch role {
	case "writer":
		err = roleWriter(os.Getenv("ECSSNAP_TEST_FILE"), os.Stdin, os.Stdout)
	case "probe":
		fmt.Println("writing")
		err = os.WriteFile(os.Getenv("ECSSNAP_TEST_FILE"), []byte("probe\n"), 0o600)
	case "agent":
		err = roleAgent(os.Getenv("ECSSNAP_TEST_AGENT"), os.Stdin, os.Stdout)
	case "wait":
		_, err = io.Copy(io.Discard, os.Stdin)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// roleWriter appends numbered records to path until stdin closes, and
// reports each one on stdout as "seq start_ns end_ns" (wall clock taken
// before and after the write), so that the test can tell exactly which
// writes were in flight while the filesystem was frozen.
func roleWriter(path string, stdin io.Reader, stdout io.Writer) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	stop := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(stop)
	}()
	w := bufio.NewWriter(stdout)
	for seq := 0; ; seq++ {
		select {
		case <-stop:
			return w.Flush()
		default:
		}
		start := time.Now().UnixNano()
		if _, err := fmt.Fprintf(f, "%08d\n", seq); err != nil {
			return err
		}
		fmt.Fprintf(w, "%d %d %d\n", seq, start, time.Now().UnixNano())
		if err := w.Flush(); err != nil {
			return err
		}
		time.Sleep(time.Millisecond) // pace: continuous, not a busy loop
	}
}

// agentSpec tells the agent role what to freeze.
type agentSpec struct {
	Targets  []Target
	Journal  string
	Deadline time.Duration
	JobID    string
}

// roleAgent owns a session like the engine does: prepares, freezes, says
// "frozen", then waits to be killed (or for stdin to close).
func roleAgent(spec string, stdin io.Reader, stdout io.Writer) error {
	var s agentSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		return err
	}
	ctx := context.Background()
	sess, err := NewHelperFreezer("", nil).Prepare(ctx, s.Targets, SessionOptions{Deadline: s.Deadline, JobID: s.JobID, JournalPath: s.Journal})
	if err != nil {
		return err
	}
	defer sess.Close()
	if _, err := sess.Freeze(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "frozen")
	_, _ = io.Copy(io.Discard, stdin)
	_, err = sess.Thaw(ctx)
	return err
}
