package freeze

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestBufferedLoggerHoldsWhileFrozen(t *testing.T) {
	var out bytes.Buffer
	base := slog.New(slog.NewTextHandler(&out, nil))
	log, buf := newBufferedLogger(base)
	log.Info("before")
	buf.hold()
	log.Info("during", "n", 1)
	log.With("k", "v").Info("during with attrs")
	if strings.Contains(out.String(), "during") {
		t.Fatalf("a record was written while held:\n%s", out.String())
	}
	buf.release(context.Background(), base.Handler())
	log.Info("after")
	got := out.String()
	for _, want := range []string{"msg=before", "msg=during n=1", `msg="during with attrs" k=v`, "msg=after"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Index(got, "during") > strings.Index(got, "after") {
		t.Errorf("records out of order:\n%s", got)
	}
}

func TestBufferedLoggerCaps(t *testing.T) {
	var out bytes.Buffer
	base := slog.New(slog.NewTextHandler(&out, nil))
	log, buf := newBufferedLogger(base)
	buf.hold()
	for range maxBufferedRecords + 5 {
		log.Info("x")
	}
	buf.release(context.Background(), base.Handler())
	if !strings.Contains(out.String(), "dropped=5") {
		t.Errorf("no note of dropped records:\n%s", out.String()[len(out.String())-200:])
	}
}
