package ecsemu

import (
	"testing"
	"time"
)

func TestSnapshotProgressAt(t *testing.T) {
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &snapshotState{created: created, duration: 100 * time.Second, sourceCategory: "cloud_efficiency"}
	tests := []struct {
		at     time.Duration
		status string
		pct    int
		remain int
	}{
		{-time.Minute, snapProgressing, 0, 100}, // clock set back: still at the start
		{0, snapProgressing, 0, 100},
		{500 * time.Millisecond, snapProgressing, 0, 100},
		{45 * time.Second, snapProgressing, 45, 55},
		{99900 * time.Millisecond, snapProgressing, 99, 1},
		{100 * time.Second, snapAccomplished, 100, 0},
		{time.Hour, snapAccomplished, 100, 0},
	}
	for _, tt := range tests {
		got := s.progressAt(created.Add(tt.at))
		if got.status != tt.status || got.percent != tt.pct || got.remainSecs != tt.remain {
			t.Errorf("at %v: %+v, want %s %d%% %ds", tt.at, got, tt.status, tt.pct, tt.remain)
		}
	}
	if s.available(created.Add(time.Second)) {
		t.Error("a progressing cloud_efficiency snapshot is available")
	}
	s.sourceCategory = "cloud_auto"
	if !s.available(created.Add(time.Second)) {
		t.Error("a progressing ESSD AutoPL snapshot is not available")
	}
	s.failed = true
	if got := s.progressAt(created.Add(time.Hour)); got.status != snapFailed || s.available(created.Add(time.Hour)) {
		t.Errorf("failed snapshot: %+v", got)
	}
	if !s.expiresAt().IsZero() {
		t.Error("a snapshot without retention expires")
	}
	s.retentionDays = 2
	if got := s.expiresAt(); !got.Equal(created.Add(48 * time.Hour)) {
		t.Errorf("expiresAt = %v", got)
	}
}

func TestSnapshotDuration(t *testing.T) {
	sc := DefaultScenario()
	sc.Speed = Speed{MiBPerSecond: 1024, Minimum: Duration(30 * time.Second)}
	e, err := New(sc, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for size, want := range map[int]time.Duration{1: 30 * time.Second, 30: 30 * time.Second, 60: time.Minute, 2048: 2048 * time.Second} {
		if got := e.snapshotDuration(size); got != want {
			t.Errorf("%d GiB: %v, want %v", size, got, want)
		}
	}
}

func TestPreexistingSnapshots(t *testing.T) {
	clock := NewVirtualClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	sc := DefaultScenario()
	sc.Snapshots = []Snapshot{
		{ID: "s-old", DiskID: DefaultDataDiskID, CreationTime: clock.Now().Add(-72 * time.Hour), RetentionDays: 3},
		{ID: "s-run", DiskID: DefaultDataDiskID, Status: "progressing", Age: Duration(100 * time.Second)},
		{ID: "s-bad", DiskID: DefaultSystemDiskID, Status: "failed", Type: "auto"},
	}
	e, err := New(sc, Options{Clock: clock, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	views := e.Snapshots()
	got := map[string]SnapshotView{}
	for _, v := range views {
		got[v.ID] = v
	}
	if _, ok := got["s-old"]; ok {
		t.Error("s-old is past its 3-day retention at start but exists")
	}
	// 100 GiB at 256 MiB/s is 400 s; 100 s have passed.
	if r := got["s-run"]; r.Status != snapProgressing || r.Progress != 25 || r.RemainTime != 300 {
		t.Errorf("s-run = %+v", r)
	}
	if b := got["s-bad"]; b.Status != snapFailed || b.Type != "auto" {
		t.Errorf("s-bad = %+v", b)
	}
	clock.Advance(300 * time.Second)
	for _, v := range e.Snapshots() {
		if v.ID == "s-run" && v.Status != snapAccomplished {
			t.Errorf("s-run after 400 s: %+v", v)
		}
	}
}
