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
	"github.com/ecssnap/ecssnap/pkg/loopfs/loopfstest"
	"github.com/ecssnap/ecssnap/pkg/topology"
)

// apiLatency is the emulator's answer time in the freeze-window benchmark.
const apiLatency = 50 * time.Millisecond

// BenchmarkFreezeWindow measures how long filesystems stay frozen for
// N = 1, 4, 16 disks (one ext4 loop filesystem each), grouped (one
// CreateSnapshotGroup) and per-disk (N CreateSnapshot calls in parallel),
// with the API answering after 50 ms. Target: held-ms at most 55, flat in N.
//
// Beside them, "sequential" is the approach of older in-guest tools on the
// same filesystems and the same emulator: freeze everything, call
// CreateSnapshot for one disk after another, then thaw. It gets the same
// freeze helper and a connection warmed before the freeze, so the only
// difference measured is the order of the calls.
func BenchmarkFreezeWindow(b *testing.B) {
	ctx := context.Background()
	const maxN = 16
	filesystems := loopfstest.Ext4(b, maxN)
	var mounts []string
	overrides := map[string]string{}
	for i, fs := range filesystems {
		mounts = append(mounts, fs.MountPoint)
		overrides[filepath.Base(fs.Devices[0])] = benchDiskID(i)
	}
	for _, mode := range []struct{ name, category string }{{"grouped", "cloud_essd"}, {"per-disk", "cloud_efficiency"}} {
		for _, n := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/N=%d", mode.name, n), func(b *testing.B) {
				env := freezeBenchEmulator(b, maxN, mode.category)
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
	for _, n := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("sequential/N=%d", n), func(b *testing.B) {
			env := freezeBenchEmulator(b, maxN, "cloud_essd")
			c := emuClient(b, env)
			var targets []freeze.Target
			for _, fs := range filesystems[:n] {
				targets = append(targets, freeze.Target{MountPoint: fs.MountPoint, FSType: fs.Type, Dev: fs.Dev, Source: fs.Devices[0]})
			}
			journal := filepath.Join(b.TempDir(), "freeze.json")
			var held time.Duration
			b.ResetTimer()
			for iter := range b.N {
				held += sequentialSnapshot(b, c, env, targets, journal, iter)
			}
			b.ReportMetric(float64(held.Microseconds())/1000/float64(b.N), "held-ms")
			b.ReportMetric(float64(c.CallCount())/float64(b.N), "calls/op")
		})
	}
}

// sequentialSnapshot is one run of the older tools' approach: list the
// disks (which also opens the connection), freeze every target, create one
// snapshot after another, thaw. It returns how long the filesystems were
// frozen, measured by the freeze helper as for ecssnap's jobs.
func sequentialSnapshot(b *testing.B, c *cloud.Client, env *ecsemutest.Env, targets []freeze.Target, journal string, iter int) time.Duration {
	ctx := context.Background()
	if _, err := c.DescribeDisks(ctx, env.InstanceID); err != nil {
		b.Fatal(err)
	}
	sess, err := freeze.NewHelperFreezer("", nil).Prepare(ctx, targets, freeze.SessionOptions{JobID: "sequential", JournalPath: journal})
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	frep, err := sess.Freeze(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if got := len(frep.Frozen()); got != len(targets) {
		b.Fatalf("froze %d filesystems, want %d", got, len(targets))
	}
	for i := range targets {
		_, err := c.CreateSnapshot(ctx, cloud.CreateSnapshotInput{DiskID: benchDiskID(i),
			Name: fmt.Sprintf("sequential-%d-%d", iter, i), ClientToken: fmt.Sprintf("seq-%d-%d-%d", time.Now().UnixNano(), iter, i)})
		if err != nil {
			sess.Thaw(ctx)
			b.Fatal(err)
		}
	}
	trep, err := sess.Thaw(ctx)
	if err != nil || trep.ThawReason != "request" {
		b.Fatalf("thaw: %v (reason %q)", err, trep.ThawReason)
	}
	return trep.Held
}

// freezeBenchEmulator serves maxN disks of one category at apiLatency, with
// snapshots that finish at once and a quota that never runs out.
func freezeBenchEmulator(b *testing.B, maxN int, category string) *ecsemutest.Env {
	sc := ecsemu.DefaultScenario()
	sc.Quota.ManualSnapshotsPerDisk = 65535
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(time.Millisecond)}
	sc.Disks = nil
	for i := range maxN {
		sc.Disks = append(sc.Disks, ecsemu.Disk{ID: benchDiskID(i), Serial: "-", Category: category, Type: "data", SizeGiB: 20})
	}
	return ecsemutest.Start(b, ecsemutest.WithScenario(sc), ecsemutest.WithFaults(ecsemu.Faults{Latency: apiLatency}),
		ecsemutest.WithLogger(slog.New(slog.DiscardHandler)))
}

func benchDiskID(i int) string { return fmt.Sprintf("d-bp1bench%010d", i) }
