package job_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/freeze"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/loopfs"
	"github.com/ecssnap/ecssnap/pkg/testenv"
	"github.com/ecssnap/ecssnap/pkg/topology"
)

// apiLatency is the emulator's answer time in the freeze-window benchmark.
const apiLatency = 50 * time.Millisecond

// BenchmarkFreezeWindow measures how long filesystems stay frozen for
// N = 1, 4, 16 disks (one ext4 loop filesystem each), grouped (one
// CreateSnapshotGroup) and per-disk (N CreateSnapshot calls in parallel),
// with the API answering after 50 ms. Target: held-ms at most 55, flat in N.
func BenchmarkFreezeWindow(b *testing.B) {
	testenv.RequireRoot(b)
	if err := loopfs.Available("ext4"); err != nil {
		testenv.Unavailable(b, err.Error())
	}
	ctx := context.Background()
	dir := b.TempDir()
	const maxN = 16
	var mounts []string
	overrides := map[string]string{}
	for i := range maxN {
		fs, err := loopfs.Create(ctx, "ext4", dir, loopfs.Options{MountPoint: filepath.Join(dir, fmt.Sprintf("fs%02d", i))})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { fs.Destroy() })
		mounts = append(mounts, fs.MountPoint)
		overrides[filepath.Base(fs.Devices[0])] = benchDiskID(i)
	}
	for _, mode := range []struct{ name, category string }{{"grouped", "cloud_essd"}, {"per-disk", "cloud_efficiency"}} {
		for _, n := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/N=%d", mode.name, n), func(b *testing.B) {
				sc := ecsemu.DefaultScenario()
				sc.Quota.ManualSnapshotsPerDisk = 65535
				sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(time.Millisecond)}
				sc.Disks = nil
				for i := range maxN {
					sc.Disks = append(sc.Disks, ecsemu.Disk{ID: benchDiskID(i), Serial: "-", Category: mode.category, Type: "data", SizeGiB: 20})
				}
				env := ecsemutest.Start(b, ecsemutest.WithScenario(sc), ecsemutest.WithFaults(ecsemu.Faults{Latency: apiLatency}),
					ecsemutest.WithLogger(slog.New(slog.DiscardHandler)))
				eng, _ := newEngine(b, env, cloud.RetryPolicy{})
				eng.Local = job.Local{Discover: topology.New("/").Discover, DeviceOverrides: overrides, AllowDeviceOverrides: true}
				eng.Freezing = job.Freezing{Freezer: freeze.NewHelperFreezer("", nil), JournalPath: filepath.Join(b.TempDir(), "freeze.json")}
				var held time.Duration
				var freezing, thawing float64
				b.ResetTimer()
				for range b.N {
					res, err := eng.Run(ctx, job.Request{Mounts: mounts[:n], Consistency: job.LevelFS, Require: job.LevelFS})
					if err != nil {
						b.Fatal(err)
					}
					if len(res.Freeze.Frozen) != n {
						b.Fatalf("froze %d filesystems, want %d", len(res.Freeze.Frozen), n)
					}
					held += time.Duration(res.Freeze.HeldMS) * time.Millisecond
					freezing += res.Freeze.FreezingMS
					thawing += res.Freeze.ThawingMS
				}
				b.ReportMetric(float64(held.Milliseconds())/float64(b.N), "held-ms")
				b.ReportMetric(freezing/float64(b.N), "fifreeze-ms")
				b.ReportMetric(thawing/float64(b.N), "fithaw-ms")
			})
		}
	}
}

func benchDiskID(i int) string { return fmt.Sprintf("d-bp1bench%010d", i) }
