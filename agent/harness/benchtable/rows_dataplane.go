package benchtable

import "fmt"

// pkgDataPlane is the emulator's data plane (FUSE-served loop disks).
const pkgDataPlane = modulePath + "pkg/ecsemu/dataplane"

const groupDataPlane = "Emulator data plane (root)"

// dataPlaneRows: how long a group capture of two disks under a btrfs
// writer holds their gates closed, and guest write throughput through
// the data plane.
func dataPlaneRows(r *Results) []Row {
	pause := row(groupDataPlane, "group capture pause, 2 disks under a btrfs writer (median)", "µs",
		r.lookup(pkgDataPlane, "BenchmarkGroupCapturePause", "pause-median-us"), atMost(5000, "5 ms"))
	if f := r.lookup(pkgDataPlane, "BenchmarkGroupCapturePause", "pause-max-us"); f.ok {
		pause.Note = fmt.Sprintf("max %.0f µs", f.value)
	}
	write := row(groupDataPlane, "guest sequential write through the data plane (1 MiB O_DIRECT)", "MiB/s",
		r.lookup(pkgDataPlane, "BenchmarkGuestSeqWrite", "MiB/s"), nil)
	return []Row{pause, write}
}
