package dataplane

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkGroupCapturePause measures how long a group capture holds the
// write gates of two disks closed while a btrfs filesystem spanning them
// is under an fsync'd writer: the pause a capture imposes on the guest.
// Target (make bench): median at most 5 ms.
func BenchmarkGroupCapturePause(b *testing.B) {
	requireHostB(b)
	p := servedPlaneB(b)
	var devs []string
	for _, id := range []string{"d-bench0", "d-bench1"} {
		if err := p.AddDisk(id, 512<<20); err != nil {
			b.Fatal(err)
		}
		dev, err := p.Attach(id)
		if err != nil {
			b.Fatal(err)
		}
		devs = append(devs, dev)
	}
	if out, err := runB("mkfs.btrfs", "-q", "-f", "-d", "raid0", "-m", "raid1", devs[0], devs[1]); err != nil {
		b.Fatalf("mkfs.btrfs: %v: %s", err, out)
	}
	mnt := b.TempDir()
	if err := syscall.Mount(devs[0], mnt, "btrfs", 0, "device="+devs[1]+",commit=1"); err != nil {
		b.Fatal(err)
	}
	defer syscall.Unmount(mnt, 0)

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { benchWriter(ctx, b, mnt) })
	time.Sleep(300 * time.Millisecond) // the writer under way
	var pauses []float64
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ss, err := p.CaptureGroup([]Member{{fmt.Sprintf("s-b0-%d", i), "d-bench0"}, {fmt.Sprintf("s-b1-%d", i), "d-bench1"}})
		if err != nil {
			b.Fatal(err)
		}
		pauses = append(pauses, float64(ss[0].Pause.Nanoseconds())/1000)
		for _, s := range ss {
			<-s.Done()
			p.DeleteSnapshot(s.ID)
		}
	}
	b.StopTimer()
	stop()
	wg.Wait()
	slices.Sort(pauses)
	// In microseconds: the window is usually a few of them.
	b.ReportMetric(pauses[len(pauses)/2], "pause-median-us")
	b.ReportMetric(pauses[len(pauses)-1], "pause-max-us")
}

// benchWriter writes and fsyncs 256 KiB records into a file until ctx ends.
func benchWriter(ctx context.Context, b *testing.B, dir string) {
	buf := make([]byte, 256<<10)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for n := 0; ctx.Err() == nil; n++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("f%d", n%8)))
		if err != nil {
			b.Error(err)
			return
		}
		for range 16 {
			if ctx.Err() != nil {
				break
			}
			if _, err := f.Write(buf); err != nil {
				b.Error(err)
				break
			}
			if err := f.Sync(); err != nil {
				b.Error(err)
				break
			}
		}
		f.Close()
	}
}

// BenchmarkGuestSeqWrite measures sequential write throughput of the guest
// through the data plane: 1 MiB direct writes to the loop device.
func BenchmarkGuestSeqWrite(b *testing.B) {
	requireHostB(b)
	p := servedPlaneB(b)
	const size = 256 << 20
	if err := p.AddDisk("d-benchw", size); err != nil {
		b.Fatal(err)
	}
	dev, err := p.Attach("d-benchw")
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.OpenFile(dev, os.O_WRONLY|unix.O_DIRECT, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	// O_DIRECT wants an aligned buffer: a page-aligned mapping.
	buf, err := unix.Mmap(-1, 0, 1<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Munmap(buf)
	for i := range buf {
		buf[i] = byte(i)
	}
	b.SetBytes(size)
	start := time.Now()
	total := 0
	for b.Loop() {
		for off := int64(0); off < size; off += int64(len(buf)) {
			if _, err := f.WriteAt(buf, off); err != nil {
				b.Fatal(err)
			}
		}
		total++
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(total)*size/(1<<20)/time.Since(start).Seconds(), "MiB/s")
}

func requireHostB(b *testing.B) {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("this benchmark needs root (FUSE, loop devices, mounts)")
	}
	for _, dev := range []string{"/dev/fuse", loopControl} {
		if _, err := os.Stat(dev); err != nil {
			b.Skip(dev + " is missing: the data plane needs FUSE and loop devices")
		}
	}
}

func servedPlaneB(b *testing.B) *Plane {
	b.Helper()
	p, err := New(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Serve(); err != nil {
		p.Close()
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	return p
}

func runB(name string, args ...string) ([]byte, error) {
	return execCommand(name, args...).CombinedOutput()
}
