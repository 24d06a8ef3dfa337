package ecsemu

import (
	"testing"
	"time"
)

func TestVirtualClock(t *testing.T) {
	start := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("x", 3600))
	c := NewVirtualClock(start)
	if !c.Now().Equal(start) || c.Now().Location() != time.UTC {
		t.Fatalf("Now = %v, want %v in UTC", c.Now(), start)
	}
	c.Advance(90 * time.Minute)
	if got := c.Now().Sub(start); got != 90*time.Minute {
		t.Errorf("after Advance: %v", got)
	}
	later := start.Add(48 * time.Hour)
	c.Set(later)
	if !c.Now().Equal(later) {
		t.Errorf("after Set: %v", c.Now())
	}
	var _ Clock = RealClock{}
	if d := time.Since(RealClock{}.Now()); d < 0 || d > time.Minute {
		t.Errorf("RealClock off by %v", d)
	}
}
