package freeze

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func sampleJournal(job string) Journal {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return Journal{Version: journalVersion, JobID: job, Session: "0123456789abcdef" + job,
		Owner: ProcessID{PID: 10, StartTime: 100}, Helper: ProcessID{PID: 11, StartTime: 101}, Guard: ProcessID{PID: 12, StartTime: 102},
		Created: now, Deadline: now.Add(10 * time.Second),
		Mounts: []JournalMount{{MountPoint: "/data", Dev: "8:17", FSType: "xfs"}, {MountPoint: "/", Dev: "254:1", FSType: "ext4"}}}
}

func TestJournalRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "freeze.json")
	want := sampleJournal("j-1")
	if err := createJournal(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := readJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read %+v, want %+v", got, want)
	}
	// A second freeze never writes over a journal, and leaves no litter.
	err = createJournal(path, sampleJournal("j-2"))
	if !errors.Is(err, ErrFreezeInProgress) || !strings.Contains(err.Error(), `job "j-1"`) {
		t.Fatalf("second create: %v", err)
	}
	if got, _ := readJournal(path); got.JobID != "j-1" {
		t.Fatalf("journal replaced by %q", got.JobID)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the journal", len(entries))
	}
}

func TestRemoveJournalIf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "freeze.json")
	if removed, err := removeJournalIf(path, "s1"); removed || err != nil {
		t.Fatalf("missing journal: removed=%v err=%v", removed, err)
	}
	if err := createJournal(path, sampleJournal("other")); err != nil {
		t.Fatal(err)
	}
	if removed, err := removeJournalIf(path, "0123456789abcdefj-1"); removed || err != nil {
		t.Fatalf("another job's journal: removed=%v err=%v", removed, err)
	}
	if removed, err := removeJournalIf(path, "0123456789abcdefother"); !removed || err != nil {
		t.Fatalf("own journal: removed=%v err=%v", removed, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("journal still there: %v", err)
	}
	if err := os.WriteFile(path, []byte("{torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	if removed, err := removeJournalIf(path, "0123456789abcdefother"); removed || err == nil {
		t.Fatalf("unparseable journal: removed=%v err=%v, want it kept with an error", removed, err)
	}
}

func TestParseJournalRejects(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"garbage", `nope`, "decode"},
		{"version", `{"version":2}`, "version"},
		{"relative mount", `{"version":1,"mounts":[{"mount_point":"data"}]}`, "absolute"},
		{"bad dev", `{"version":1,"mounts":[{"mount_point":"/","dev":"x"}]}`, "major:minor"},
	} {
		if _, err := parseJournal([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestParseStat(t *testing.T) {
	// A command name with spaces and parentheses must not shift the fields.
	line := "4242 (evil) (name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615\n"
	state, start, err := parseStat([]byte(line))
	if err != nil || state != 'S' || start != 987654 {
		t.Fatalf("parseStat = %c %d %v, want S 987654", state, start, err)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S" + strings.Repeat(" 1", 18) + " notanumber"} {
		if _, _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
}

func TestProcessAlive(t *testing.T) {
	root := t.TempDir()
	writeStat := func(pid, state string, start int) {
		dir := filepath.Join(root, pid)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		line := pid + " (x) " + state + strings.Repeat(" 0", 18) + " " + strconv.Itoa(start) + " 0 0\n"
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeStat("100", "S", 5000)
	writeStat("200", "Z", 6000)
	for _, tc := range []struct {
		id   ProcessID
		want bool
	}{
		{ProcessID{PID: 100, StartTime: 5000}, true},
		{ProcessID{PID: 100, StartTime: 4999}, false}, // pid reused
		{ProcessID{PID: 200, StartTime: 6000}, false}, // zombie
		{ProcessID{PID: 300, StartTime: 1}, false},    // gone
		{ProcessID{}, false},
	} {
		if got := processAlive(root, tc.id); got != tc.want {
			t.Errorf("processAlive(%+v) = %v, want %v", tc.id, got, tc.want)
		}
	}
	self, err := processID("/proc", os.Getpid())
	if err == nil && !processAlive("/proc", self) {
		t.Errorf("this process is not alive according to /proc")
	}
}
