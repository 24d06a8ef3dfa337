package freeze

// RecoverReport says what Recover found and did.
type RecoverReport struct {
	// Found is true when a journal existed.
	Found bool
	// JobID and Owner are copied from the journal.
	JobID string
	Owner ProcessID
	// Action is "none" (no journal), "left-active" (its owner or helper is
	// alive and within the deadline) or "thawed".
	Action string
	// Mounts has one entry per listed mount when Action is "thawed".
	Mounts []RecoveredMount
}

// RecoveredMount is the outcome of thawing one journal entry.
type RecoveredMount struct {
	MountPoint string
	// Result is "thawed" (it was frozen), "not-frozen" (already thawed, the
	// common case), "changed" (the path is now another filesystem, left
	// alone), or "error".
	Result string
	Error  string
}

// Recover actions and results.
const (
	RecoverNone       = "none"
	RecoverLeftActive = "left-active"
	RecoverThawed     = "thawed"

	RecoveredThawed    = "thawed"
	RecoveredNotFrozen = "not-frozen"
	RecoveredChanged   = "changed"
	RecoveredError     = "error"
)
