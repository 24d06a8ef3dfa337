package soak

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/store"
)

// These are smoke tests of the soak's detectors: each must see a planted
// problem, and see nothing in a clean case, or the soak's zeros mean nothing.

func TestFindDuplicates(t *testing.T) {
	tags := func(j string) map[string]string { return map[string]string{job.TagJob: j, job.TagManaged: "true"} }
	clean := ecsemu.StateDump{
		Groups: []ecsemu.GroupView{{ID: "ssg-1", Tags: tags("j-a")}, {ID: "ssg-2", Tags: tags("j-b")}},
		Snapshots: []ecsemu.SnapshotView{
			{ID: "s-1", DiskID: "d-1", GroupID: "ssg-1"},
			{ID: "s-2", DiskID: "d-2", GroupID: "ssg-1"},
			{ID: "s-3", DiskID: "d-3", Tags: tags("j-a")},
			{ID: "s-4", DiskID: "d-1", GroupID: "ssg-2"},
			{ID: "s-5", DiskID: "d-3", Tags: tags("j-b")},
			{ID: "s-6", DiskID: "d-3"}, // someone else's: no job tag
			{ID: "s-7", DiskID: "d-3"},
		},
	}
	if got := findDuplicates(clean); len(got) != 0 {
		t.Fatalf("clean state: got duplicates %q", got)
	}
	// A second group for job a, and a second per-disk snapshot for job b.
	planted := clean
	planted.Groups = append(planted.Groups, ecsemu.GroupView{ID: "ssg-3", Tags: tags("j-a")})
	planted.Snapshots = append(append([]ecsemu.SnapshotView(nil), clean.Snapshots...),
		ecsemu.SnapshotView{ID: "s-8", DiskID: "d-2", GroupID: "ssg-3"},
		ecsemu.SnapshotView{ID: "s-9", DiskID: "d-3", Tags: tags("j-b")})
	got := findDuplicates(planted)
	want := []string{"job j-a disk d-2: 2 snapshots (s-2, s-8)", "job j-b disk d-3: 2 snapshots (s-5, s-9)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("planted duplicates:\ngot  %q\nwant %q", got, want)
	}
}

func TestFindPhantoms(t *testing.T) {
	st := ecsemu.StateDump{
		Groups:    []ecsemu.GroupView{{ID: "ssg-1"}},
		Snapshots: []ecsemu.SnapshotView{{ID: "s-1", DiskID: "d-1", GroupID: "ssg-1"}, {ID: "s-2", DiskID: "d-2"}},
	}
	rec := func(id, group string, snaps ...job.SnapshotResult) *store.Record {
		return &store.Record{ID: id, State: store.StateDone, Result: &job.Result{GroupID: group, Snapshots: snaps}}
	}
	clean := []*store.Record{
		rec("j-1", "ssg-1", job.SnapshotResult{DiskID: "d-1", SnapshotID: "s-1"}, job.SnapshotResult{DiskID: "d-2", SnapshotID: "s-2"}),
		rec("j-2", "", job.SnapshotResult{DiskID: "d-2"}), // failed before its create: no ID
	}
	if got := findPhantoms(clean, st); len(got) != 0 {
		t.Fatalf("clean: %q", got)
	}
	planted := append(clean, rec("j-3", "ssg-9", job.SnapshotResult{DiskID: "d-1", SnapshotID: "s-2"}))
	if got := findPhantoms(planted, st); len(got) != 2 {
		t.Fatalf("planted: %q", got)
	}
}

func TestFindTokenDuplicates(t *testing.T) {
	call := func(tok string, committed, replayed bool) ecsemu.Call {
		return ecsemu.Call{Action: "CreateSnapshotGroup", Params: map[string]string{"ClientToken": tok}, Committed: committed, Replayed: replayed}
	}
	calls := []ecsemu.Call{
		call("tok-1", true, false),
		call("tok-1", true, true),   // a retry answered from the first result
		call("tok-2", false, false), // throttled
		call("tok-2", true, false),
		{Action: "DescribeSnapshots", Committed: true},
	}
	if got := findTokenDuplicates(calls); len(got) != 0 {
		t.Fatalf("clean calls: got %q", got)
	}
	calls = append(calls, call("tok-2", true, false))
	if got := findTokenDuplicates(calls); len(got) != 1 || !strings.Contains(got[0], "tok-2") {
		t.Fatalf("planted token duplicate: got %q", got)
	}
}

// records writes n records and acknowledges the first acked of them.
func records(n, acked int) ([]byte, []ack) {
	var buf bytes.Buffer
	var acks []ack
	for i := range n {
		payload := bytes.Repeat([]byte{byte(i)}, 10+i)
		line := formatRecord(i, payload)
		buf.Write(line)
		if i < acked {
			acks = append(acks, ack{seq: i, sum: crc(payload), size: len(line)})
		}
	}
	return buf.Bytes(), acks
}

func TestVerifyRecords(t *testing.T) {
	data, acks := records(5, 4)
	if loss := verifyRecords(data, acks); loss.Records != 0 || loss.Corrupt != 0 {
		t.Fatalf("intact file: %+v", loss)
	}
	// An unacknowledged tail may be torn or missing.
	if loss := verifyRecords(data[:len(data)-7], acks); loss.Records != 0 {
		t.Fatalf("torn unacknowledged tail counted as lost: %+v", loss)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))

	// Planted: acknowledged record 2 missing.
	missing := bytes.Join([][]byte{lines[0], lines[1], lines[3], lines[4]}, nil)
	if loss := verifyRecords(missing, acks); loss.Records != 1 || loss.First != 2 || loss.Bytes != int64(len(lines[2])) {
		t.Fatalf("missing record: %+v", loss)
	}
	// Planted: one byte of acknowledged record 1 changed (the sum no longer matches).
	corrupt := bytes.Clone(data)
	corrupt[len(lines[0])+3] ^= 0x01
	if loss := verifyRecords(corrupt, acks); loss.Records != 1 || loss.First != 1 || loss.Corrupt != 1 {
		t.Fatalf("corrupt record: %+v", loss)
	}
	// Planted: the file cut inside an acknowledged record.
	if loss := verifyRecords(data[:len(lines[0])+len(lines[1])+5], acks); loss.Records != 2 || loss.First != 2 {
		t.Fatalf("truncated file: %+v", loss)
	}
}

// TestWriterLosesNothing runs the real writer on a plain directory and
// then takes a record away behind its back.
func TestWriterLosesNothing(t *testing.T) {
	w := newWriter(t.TempDir(), time.Millisecond, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	w.run(ctx)
	n, written, _, err := w.stats()
	if err != nil || n < 3 {
		t.Fatalf("writer: %d records, err %v", n, err)
	}
	if loss, err := w.verify(); err != nil || loss.Records != 0 {
		t.Fatalf("verify: %+v, %v", loss, err)
	}
	data, err := os.ReadFile(w.path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != written {
		t.Fatalf("file holds %d bytes, writer acknowledged %d", len(data), written)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if err := os.WriteFile(w.path, bytes.Join(append(lines[:1:1], lines[2:]...), nil), 0o644); err != nil {
		t.Fatal(err)
	}
	if loss, err := w.verify(); err != nil || loss.Records != 1 || loss.First != 1 {
		t.Fatalf("after removing record 1: %+v, %v", loss, err)
	}
}

func TestCheckJobs(t *testing.T) {
	done := func(id, outcome, class string, resumed bool) *store.Record {
		return &store.Record{ID: id, State: store.StateDone, Attempts: 1,
			Result: &job.Result{Outcome: outcome, ErrorClass: class, Resumed: resumed, Consistency: "fs"}}
	}
	recs := []*store.Record{
		done("j-1", "succeeded", "", false),
		done("j-2", "failed", "temporary", true),
		{ID: "j-3", State: store.StateWaiting},
		done("j-9", "succeeded", "", false), // not one of ours
	}
	c := checkJobs([]string{"j-1", "j-2", "j-3", "j-4"}, recs)
	if len(c.Lost) != 2 || !strings.Contains(c.Lost[0], "j-3") || !strings.Contains(c.Lost[1], "j-4") {
		t.Fatalf("lost: %q", c.Lost)
	}
	if c.Outcomes["succeeded"] != 1 || c.Outcomes["failed/temporary"] != 1 || c.Resumed != 1 || c.Levels["fs"] != 2 {
		t.Fatalf("tally: %+v", c)
	}
}

func TestProbeCountsLongFreezes(t *testing.T) {
	p := &probe{mount: "/mnt/x", limit: 4 * time.Second}
	now := time.Now()
	p.observe(now, 10*time.Millisecond, nil) // not frozen
	p.observe(now, 900*time.Millisecond, nil)
	p.observe(now, 4100*time.Millisecond, nil) // planted: past the limit
	s := p.stats()
	if s.Stalls != 2 || len(s.Past) != 1 || s.Longest != 4100*time.Millisecond {
		t.Fatalf("probe stats: %+v", s)
	}
	p.since.Store(now.Add(-5 * time.Second).UnixNano())
	if b := p.blocked(now); b != 5*time.Second {
		t.Fatalf("blocked: %s", b)
	}
}

func TestParseStat(t *testing.T) {
	line := "4242 (ecssnap (x) y) S 17 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1 2 3\n"
	got, err := parseStat([]byte(line))
	if err != nil || got.pid != 4242 || got.ppid != 17 || got.start != 987654 {
		t.Fatalf("parseStat: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "42 no parens", "42 (x) S 1"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q): no error", bad)
		}
	}
}

func TestReportFailsOnEveryFinding(t *testing.T) {
	r := &Report{Drained: true, Duplicates: []string{"d"}, PastDeadline: []string{"p"}, StillFrozen: []string{"s"},
		LostDetail: []string{"l"}, Jobs: jobCheck{Lost: []string{"j"}}, Phantoms: []string{"m"}, WriterErrors: []string{"w"}}
	r.finish()
	if r.OK() || len(r.Failures) != 7 {
		t.Fatalf("failures: %q", r.Failures)
	}
	clean := &Report{Drained: true}
	clean.finish()
	var out bytes.Buffer
	clean.Print(&out)
	if !clean.OK() || !strings.Contains(out.String(), "PASS") {
		t.Fatalf("clean report:\n%s", out.String())
	}
}
