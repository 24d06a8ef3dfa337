package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/store"
)

// A job's reason and trigger are written by whoever asked for it; `list`
// and `show` print them on root's terminal escaped, so an escape sequence
// cannot forge a line, clear the screen or retitle the window.
func TestListAndShowEscapeControlCharacters(t *testing.T) {
	h := newHarness(t)
	st, err := store.Open(h.vars["ECSSNAP_STATE_DIR"], store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const evil = "\x1b]0;owned\x07\x1b[2J\rforged\nline\u2028\u202e"
	rec := &store.Record{ID: "j-20260101-000000-00000001", State: store.StateDone,
		Request: store.RequestRecord{Trigger: "apt\x1b[31m", Reason: evil, Packages: []string{"upgrade x\x1b[1A"}},
		Result:  &job.Result{Outcome: "failed", Consistency: "crash", Error: "boom\x1b[2J"}, Error: "boom\x1b[2J\nforged",
		Created: time.Now()}
	if err := st.Save(rec); err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, args := range [][]string{{"ecssnap", "list"}, {"ecssnap", "show", rec.ID}} {
		code, stdout, stderr := h.run(args...)
		if code != cli.ExitOK {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		if strings.ContainsAny(stdout, "\x1b\x07\r\u2028\u202e") || strings.Contains(stdout, "\nline") || strings.Contains(stdout, "\nforged") {
			t.Errorf("%v printed terminal controls:\n%q", args, stdout)
		}
		if !strings.Contains(stdout, `\x1b]0;owned`) {
			t.Errorf("%v does not show the reason escaped:\n%s", args, stdout)
		}
	}
}
