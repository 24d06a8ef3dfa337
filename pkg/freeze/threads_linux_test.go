package freeze

import (
	"runtime"
	"runtime/pprof"
	"testing"
)

// TestReadyThreads: enough Ps for a level's ioctls plus the main loop and
// the worker, and at least that many threads made; nothing for a level of
// one; capped for a huge level.
func TestReadyThreads(t *testing.T) {
	orig := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(orig) })
	for _, tc := range []struct{ n, want int }{
		{1, orig},
		{16, max(orig, 18)},
		{10000, max(orig, maxLevelThreads+2)},
	} {
		runtime.GOMAXPROCS(orig)
		readyThreads(tc.n)
		if got := runtime.GOMAXPROCS(0); got != tc.want {
			t.Errorf("readyThreads(%d): GOMAXPROCS %d, want %d", tc.n, got, tc.want)
		}
		if made := pprof.Lookup("threadcreate").Count(); made < min(tc.n, maxLevelThreads) {
			t.Errorf("readyThreads(%d): %d threads made in all", tc.n, made)
		}
	}
}
