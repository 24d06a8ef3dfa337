package store

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// Retain bounds the finished records by count and by age at once, whatever
// the rate of jobs; unfinished records stay.
func TestRetain(t *testing.T) {
	s, _ := openTest(t, t.TempDir())
	// The clock steps one second per Save: j-00 is the oldest.
	for i := range 12 {
		state := StateDone
		if i == 1 {
			state = StateQueued
		}
		if err := s.Save(&Record{ID: fmt.Sprintf("j-%02d", i), State: state}); err != nil {
			t.Fatal(err)
		}
	}
	// All young: the count alone bounds them.
	if n, err := s.Retain(Retention{Keep: 5, MaxAge: time.Hour}); err != nil || n != 6 {
		t.Fatalf("Retain(keep 5) = %d, %v; want 6", n, err)
	}
	all, _ := s.List(ListOptions{})
	if got, want := ids(all), []string{"j-11", "j-10", "j-09", "j-08", "j-07", "j-01"}; !slices.Equal(got, want) {
		t.Fatalf("after Retain: %v, want %v", got, want)
	}
	// j-NN was created at t0+NN+1s and the clock now reads t0+14s: an age
	// limit of 4.5s removes j-08 and j-07 although keep allows them.
	if n, err := s.Retain(Retention{Keep: 5, MaxAge: 4500 * time.Millisecond}); err != nil || n != 2 {
		t.Fatalf("Retain(age) = %d, %v; want 2", n, err)
	}
	all, _ = s.List(ListOptions{})
	if got, want := ids(all), []string{"j-11", "j-10", "j-09", "j-01"}; !slices.Equal(got, want) {
		t.Fatalf("after the age limit: %v, want %v", got, want)
	}
	if n, err := s.Retain(Retention{}); err != nil || n != 0 {
		t.Errorf("Retain with no limits = %d, %v", n, err)
	}
}
