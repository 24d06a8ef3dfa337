package job

import "fmt"

// Level is a consistency level: crash < fs < app.
type Level int

const (
	// LevelDefault (the zero value) asks for the default: fs when
	// freezing is possible, crash otherwise.
	LevelDefault Level = iota
	// LevelCrash: what a power cut would leave; every disk at its own instant
	// unless grouped.
	LevelCrash
	// LevelFS: every writable filesystem on the selected disks was frozen
	// while the snapshots were created.
	LevelFS
	// LevelApp: fs, and every pre-freeze hook script quiesced its
	// application successfully.
	LevelApp
)

var levelNames = map[Level]string{LevelCrash: "crash", LevelFS: "fs", LevelApp: "app"}

func (l Level) String() string {
	if n, ok := levelNames[l]; ok {
		return n
	}
	return "default"
}

// ParseLevel reads crash, fs or app ("" is LevelDefault).
func ParseLevel(s string) (Level, error) {
	if s == "" {
		return LevelDefault, nil
	}
	for l, n := range levelNames {
		if n == s {
			return l, nil
		}
	}
	return LevelDefault, fmt.Errorf("consistency %q: want crash, fs or app", s)
}

// ParseLevels parses a request's desired and required levels, as named
// in the API, the job records and the command line.
func ParseLevels(desired, required string) (consistency, require Level, err error) {
	if consistency, err = ParseLevel(desired); err != nil {
		return LevelDefault, LevelDefault, err
	}
	if require, err = ParseLevel(required); err != nil {
		return LevelDefault, LevelDefault, fmt.Errorf("require: %w", err)
	}
	return consistency, require, nil
}

// BelowRequiredError means the job could not reach --require.
type BelowRequiredError struct {
	Achieved, Required Level
	Why                string
	Created            bool // snapshots exist (tagged with the achieved level)
}

func (e *BelowRequiredError) Error() string {
	msg := fmt.Sprintf("consistency %s is below the required %s: %s", e.Achieved, e.Required, e.Why)
	if e.Created {
		return msg + " (the snapshots exist, tagged ecssnap:consistency=" + e.Achieved.String() + ")"
	}
	return msg + "; nothing was created"
}

// DegradedError means the job succeeded below the desired level but at or
// above the required one (exit 2).
type DegradedError struct {
	Achieved, Desired Level
	Why               string
}

func (e *DegradedError) Error() string {
	return fmt.Sprintf("done at consistency %s, below the desired %s: %s", e.Achieved, e.Desired, e.Why)
}
