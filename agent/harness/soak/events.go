package soak

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// eventLog is a timestamped record of what the soak did (faults, kills)
// and saw (blocked writes), to set beside the daemon's log when a check
// fails.
type eventLog struct {
	mu sync.Mutex
	f  *os.File
}

func newEventLog(path string) (*eventLog, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &eventLog{f: f}, nil
}

func (l *eventLog) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.f, "%s %s\n", time.Now().UTC().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func (l *eventLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.f.Close()
}
