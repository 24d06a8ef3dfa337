package soak

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/freeze/ioctl"
	"github.com/ecssnap/ecssnap/pkg/loopfs"
)

// diskID names the emulator disk behind loop filesystem i.
func diskID(i int) string { return fmt.Sprintf("d-bp1soakdisk%08d", i+1) }

// scenario is the emulated instance: one data disk per loop filesystem,
// snapshots that finish in well under a second, and a quota no soak
// reaches. With three or more disks the last is cloud_efficiency, which
// cannot join a group, so jobs make a group and a per-disk snapshot in one
// freeze window.
func scenario(n int) *ecsemu.Scenario {
	sc := ecsemu.DefaultScenario()
	sc.Quota.ManualSnapshotsPerDisk = 65535
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(100 * time.Millisecond)}
	sc.Disks = nil
	for i := range n {
		category := "cloud_essd"
		if n >= 3 && i == n-1 {
			category = "cloud_efficiency"
		}
		sc.Disks = append(sc.Disks, ecsemu.Disk{ID: diskID(i), Serial: "-", Category: category, Type: "data", SizeGiB: 20})
	}
	return sc
}

// configYAML is the daemon's configuration: freeze filesystems, the test
// device map from loop devices to the emulator's disks, an API retry
// budget the faults cannot always outlast, and retention that deletes
// nothing, so that every snapshot stays for the duplicate check.
func configYAML(scratch string, deadline time.Duration, fss []*loopfs.FS, sc *ecsemu.Scenario) string {
	var b strings.Builder
	fmt.Fprintf(&b, "consistency: fs\n")
	fmt.Fprintf(&b, "freeze: {deadline: %s}\n", deadline)
	fmt.Fprintf(&b, "api: {connect_timeout: 2s, read_timeout: 5s, retry_budget: 20s}\n")
	fmt.Fprintf(&b, "wait_timeout: 2m\n")
	fmt.Fprintf(&b, "quota_per_disk: %d\n", sc.Quota.ManualSnapshotsPerDisk)
	fmt.Fprintf(&b, "retention: {default: {keep_last: 0, max_age: 0}, important: {keep_last: 0, max_age: 0}}\n")
	fmt.Fprintf(&b, "hooks: {dir: %s}\n", filepath.Join(scratch, "hooks.d"))
	fmt.Fprintf(&b, "test_device_map_enabled: true\ntest_device_map:\n")
	for i, fs := range fss {
		fmt.Fprintf(&b, "  %s: %s\n", filepath.Base(fs.Devices[0]), diskID(i))
	}
	return b.String()
}

// thaw thaws mp (a filesystem a broken run left frozen).
func thaw(mp string) {
	fd, err := syscall.Open(mp, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	_ = ioctl.Thaw(fd)
	syscall.Close(fd)
}

// unmountWait unmounts mp, waiting while it is busy: a freeze guard may
// hold the mount open for a while after its job.
func unmountWait(mp string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		err := syscall.Unmount(mp, 0)
		if err == nil || !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
