package freeze

import (
	"runtime"
	"sync"
)

// maxLevelThreads caps the Ps and threads readied for one level. A wider
// level is still frozen at once; its extra FIFREEZEs just enter the kernel
// as the runtime hands Ps over.
const maxLevelThreads = 64

// readyThreads lets n blocking ioctls enter the kernel together. Each one
// blocks its thread and keeps its P, and by default there is one P per CPU:
// the next goroutine runs only when sysmon takes a P back from a blocked
// call, and then on a thread cloned on the spot. On a 2-CPU machine that
// spread the starts of 16 FIFREEZEs over 3 to 5 ms, about as long as the
// ioctls themselves. So, before anything is frozen: raise GOMAXPROCS to a
// P per ioctl plus two (the main loop and the worker), and create the
// threads now by holding n goroutines on their own threads at once; they
// are unlocked afterwards, so the runtime keeps the threads idle for reuse
// rather than ending them. The helper is its own short-lived process, so
// the settings affect nothing else.
func readyThreads(n int) {
	n = min(n, maxLevelThreads)
	if n < 2 {
		return
	}
	if runtime.GOMAXPROCS(0) < n+2 {
		runtime.GOMAXPROCS(n + 2)
	}
	var locked, exited sync.WaitGroup
	release := make(chan struct{})
	locked.Add(n)
	for range n {
		exited.Go(func() {
			// A locked goroutine owns its thread until it unlocks, so
			// while all n wait here, n threads exist.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			locked.Done()
			<-release
		})
	}
	locked.Wait()
	close(release)
	exited.Wait()
}
