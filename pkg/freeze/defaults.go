package freeze

// Paths on a production system. Everything that reads them takes them as
// parameters internally so that tests can point elsewhere.
const (
	// DefaultJournalPath is on /run, a tmpfs: writing it never touches a
	// disk that is about to be frozen.
	DefaultJournalPath = "/run/ecssnap/freeze.json"
	// selfExe is this process's own image. Executing it rather than the path
	// it came from survives a package upgrade that replaced the binary.
	selfExe = "/proc/self/exe"
	// procRoot is where process start times are read.
	procRoot = "/proc"
)
