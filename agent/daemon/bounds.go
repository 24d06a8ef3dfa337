package daemon

import "fmt"

// QueueLimits bound the jobs waiting to run, so that no caller can fill
// the state directory or keep root's hooks waiting behind a thousand jobs.
type QueueLimits struct {
	// Max is how many jobs may wait in all, root's included.
	Max int
	// PerUID is how many jobs one uid other than root may have waiting.
	PerUID int
}

// Default queue bounds: far above what hooks and operators ask for (a
// package-manager session joins one job), low enough to keep a caller
// from filling the state directory.
const (
	DefaultQueueMax    = 32
	DefaultQueuePerUID = 4
)

func (l QueueLimits) withDefaults() QueueLimits {
	if l.Max <= 0 {
		l.Max = DefaultQueueMax
	}
	if l.PerUID <= 0 {
		l.PerUID = DefaultQueuePerUID
	}
	return l
}

// BusyError refuses a new job because the queue is at a bound; the local
// API answers it with 429 and the CLI exits 75 (try again later).
type BusyError struct{ Msg string }

func (e *BusyError) Error() string { return e.Msg }

// admit checks the queue's bounds for a new job of uid. Callers hold j.mu.
func (j *Jobs) admit(uid int) error {
	if len(j.queue) >= j.limits.Max {
		return &BusyError{fmt.Sprintf("the daemon has %d jobs waiting, its limit: try again once they have run (ecssnap status)", len(j.queue))}
	}
	if uid == 0 {
		return nil
	}
	mine := 0
	for _, e := range j.queue {
		if e.rec.Caller.UID == uid {
			mine++
		}
	}
	if mine >= j.limits.PerUID {
		return &BusyError{fmt.Sprintf("uid %d already has %d jobs waiting, the limit per user: try again once they have run (ecssnap status)", uid, mine)}
	}
	return nil
}

// RequestError refuses a request that is not valid (400).
type RequestError struct{ Err error }

func (e *RequestError) Error() string { return e.Err.Error() }
func (e *RequestError) Unwrap() error { return e.Err }
