package cli_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/dataplane"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/dataplane/planetest"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
)

// planeFixture is the emulator with its data plane serving real bytes: the
// planetest btrfs over two of the instance's disks, and the guest view
// (ECSSNAP_ROOT) the plane keeps.
type planeFixture struct {
	*planetest.Btrfs
	t *testing.T
	h *harness
}

func newPlaneFixture(t *testing.T) *planeFixture {
	planetest.Require(t)
	f := &planeFixture{t: t}
	f.Btrfs = planetest.NewBtrfs(t, restoreScenario(), func(sc *ecsemu.Scenario, p *dataplane.Plane) {
		f.h = newHarness(t, ecsemutest.WithScenario(sc), ecsemutest.WithDataPlane(p))
	})
	f.h.vars["ECSSNAP_ROOT"] = f.View
	return f
}

func (f *planeFixture) run(name string, args ...string) string {
	f.t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		f.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// recordWriter appends checksummed records to a file on the btrfs, each
// fsync'd before it is acknowledged; once markers is set it writes marker
// files instead, each fsync'd too. It is the workload a snapshot must
// keep: every record acknowledged before the job, none of the markers.
type recordWriter struct {
	dir      string
	acked    atomic.Int64 // last acknowledged record
	markers  atomic.Bool
	markOK   atomic.Int64 // markers acknowledged
	stop     chan struct{}
	done     chan struct{}
	errMu    sync.Mutex
	err      error
	stopOnce sync.Once
}

func startWriter(dir string) *recordWriter {
	w := &recordWriter{dir: dir, stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

// record is one line: sequence, CRC-32 of the payload, payload.
func record(seq int64) string {
	payload := strings.Repeat(fmt.Sprintf("%016x", uint64(seq)*0x9e3779b97f4a7c15), 8)
	return fmt.Sprintf("%d %08x %s\n", seq, crc32.ChecksumIEEE([]byte(payload)), payload)
}

func (w *recordWriter) loop() {
	defer close(w.done)
	f, err := os.OpenFile(filepath.Join(w.dir, "records"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		w.fail(err)
		return
	}
	defer f.Close()
	for seq := int64(1); ; seq++ {
		select {
		case <-w.stop:
			return
		default:
		}
		if w.markers.Load() {
			n := w.markOK.Load() + 1
			if err := writeSync(filepath.Join(w.dir, fmt.Sprintf("marker-%d", n)), "written after the job\n"); err != nil {
				w.fail(err)
				return
			}
			w.markOK.Store(n)
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if _, err := f.WriteString(record(seq)); err != nil {
			w.fail(err)
			return
		}
		if err := f.Sync(); err != nil {
			w.fail(err)
			return
		}
		w.acked.Store(seq)
		time.Sleep(2 * time.Millisecond)
	}
}

func (w *recordWriter) fail(err error) {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	w.err = err
}

// Stop stops the writer and returns its error.
func (w *recordWriter) Stop() error {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

// waitMarkers waits until n markers are acknowledged.
func (w *recordWriter) waitMarkers(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for w.markOK.Load() < n {
		select {
		case <-w.done:
			t.Fatalf("the writer stopped: %v", w.Stop())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d markers written in 30 s", w.markOK.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeSync(path, data string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// checkPointInTime checks that dir holds the writer's records up to at
// least acked, every one intact and in sequence, and no marker.
func checkPointInTime(t *testing.T, dir string, acked int64) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "records"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var n int64
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		seq, _ := strconv.ParseInt(fields[0], 10, 64)
		if len(fields) != 3 || seq != n+1 || sc.Text()+"\n" != record(seq) {
			t.Fatalf("record %d is damaged or out of order: %.60q", n+1, sc.Text())
		}
		n = seq
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < acked {
		t.Errorf("%d records, but %d were acknowledged before the job", n, acked)
	}
	markers, _ := filepath.Glob(filepath.Join(dir, "marker-*"))
	if len(markers) > 0 {
		t.Errorf("%d markers written after the job are there (%s, ...)", len(markers), markers[0])
		return
	}
	t.Logf("%s: %d records intact (%d acknowledged before the job), no marker", dir, n, acked)
}

// mountOptions returns the options of the mount at path.
func mountOptions(t *testing.T, path string) []string {
	t.Helper()
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(line); len(f) > 5 && f[4] == path {
			return strings.Split(f[5], ",")
		}
	}
	return nil
}

// TestRestoreOnTheDataPlane: a writer appends fsync'd, checksummed
// records to a btrfs (-d raid0 -m raid1) on two of the emulator's
// data-plane disks; `ecssnap now` snapshots it (the data plane captures
// the group's bytes at one instant); the writer goes on with markers.
// `ecssnap mount JOB` (CreateDisk from the snapshots and AttachDisk, the
// clones found by serial in the guest view) shows every record
// acknowledged before the job and no marker, read-only; `ecssnap mounts`
// lists it; `ecssnap unmount JOB` leaves no disk, loop device or mount.
// Then `ecssnap rollback` from an operator's machine (no metadata
// service, no guest) rewinds the original disks' bytes: after the guest
// boots again the records are there, the markers gone, the filesystem
// scrubs clean, and the instance is Running.
func TestRestoreOnTheDataPlane(t *testing.T) {
	f := newPlaneFixture(t)
	h := f.h
	w := startWriter(f.Mnt)
	defer w.Stop()
	for w.acked.Load() < 50 {
		time.Sleep(5 * time.Millisecond)
	}
	acked := w.acked.Load()
	code, stdout, stderr := h.run("ecssnap", "now", "--disks", strings.Join(planetest.Disks, ","), "--consistency", "fs", "--wait", "--json")
	if code != cli.ExitOK {
		t.Fatalf("now: exit %d\n%s\n%s", code, stdout, stderr)
	}
	res := lastResult(t, stdout)
	if res.Consistency != "fs" || res.GroupID == "" || len(res.Snapshots) != 2 {
		t.Fatalf("job: consistency %s, group %q, %d snapshots", res.Consistency, res.GroupID, len(res.Snapshots))
	}
	w.markers.Store(true)
	w.waitMarkers(t, 5)

	disksBefore := h.env.Emu.DiskIDs()
	planeBefore := f.Plane.Disks()
	at := filepath.Join(t.TempDir(), "restore")
	code, stdout, stderr = h.run("ecssnap", "mount", res.JobID, "--at", at)
	if code != cli.ExitOK {
		t.Fatalf("mount: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Cleanup(func() { h.run("ecssnap", "unmount", res.JobID) })
	target := filepath.Join(at, f.Mnt)
	if !strings.Contains(stdout, target) || !strings.Contains(stdout, "is mounted read-only") {
		t.Errorf("mount output does not say what is where:\n%s", stdout)
	}
	opts := mountOptions(t, target)
	for _, o := range []string{"ro", "nodev", "nosuid", "noexec"} {
		if !slices.Contains(opts, o) {
			t.Errorf("the restore mount's options %v lack %s", opts, o)
		}
	}
	if n := len(f.Plane.Disks()) - len(planeBefore); n != 2 {
		t.Errorf("the data plane holds %d new disks, want the 2 clones", n)
	}
	checkPointInTime(t, target, acked)
	if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o600); err == nil {
		t.Error("a file could be written into the restore mount")
	}
	if code, stdout, _ := h.run("ecssnap", "mounts"); code != cli.ExitOK || !strings.Contains(stdout, res.JobID) || !strings.Contains(stdout, at) {
		t.Errorf("mounts does not list the restore:\n%s", stdout)
	}
	n := len(h.env.Emu.DiskIDs())
	code, _, stderr = h.run("ecssnap", "mount", res.JobID)
	if code == cli.ExitOK || !strings.Contains(stderr, "already mounted at "+at) || len(h.env.Emu.DiskIDs()) != n {
		t.Errorf("a second mount: exit %d %q, disks %d -> %d", code, stderr, n, len(h.env.Emu.DiskIDs()))
	}
	oneLineErr(t, stderr)
	code, stdout, stderr = h.run("ecssnap", "unmount", res.JobID)
	if code != cli.ExitOK {
		t.Fatalf("unmount: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if got := h.env.Emu.DiskIDs(); !slices.Equal(got, disksBefore) {
		t.Errorf("emulator disks after unmount %v, want %v", got, disksBefore)
	}
	if got := f.Plane.Disks(); !slices.Equal(got, planeBefore) {
		t.Errorf("data-plane disks after unmount %v, want %v", got, planeBefore)
	}
	if opts := mountOptions(t, target); opts != nil {
		t.Errorf("%s is still mounted after unmount", target)
	}
	if err := w.Stop(); err != nil {
		t.Fatalf("the writer failed while the job and the restore ran: %v", err)
	}

	// From outside: no metadata service and no guest, only the API and
	// the AccessKey in the environment. The instance's stop is the guest
	// shutting down: its filesystem is unmounted before the disks close.
	h.outside()
	delete(h.vars, "ECSSNAP_ROOT")
	stop := h.env.Emu.HoldCalls("StopInstance")
	go func() {
		<-stop.Arrived()
		f.Unmount()
		stop.Release()
	}()
	code, stdout, stderr = h.run("ecssnap", "rollback", res.JobID, "--instance", h.env.InstanceID, "--region", h.env.RegionID, "--yes")
	stop.Release()
	if code != cli.ExitOK {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if st, _ := h.env.Emu.InstanceStatus(h.env.InstanceID); st != "Running" {
		t.Errorf("instance %s after the rollback", st)
	}
	// The guest boots: the started instance has its disks back.
	devs := f.Devices()
	if out, err := exec.Command("btrfs", "check", "--readonly", devs[0]).CombinedOutput(); err != nil {
		t.Errorf("btrfs check after the rollback: %v\n%s", err, out)
	}
	f.Mount()
	checkPointInTime(t, f.Mnt, acked)
	if out, err := exec.Command("btrfs", "scrub", "start", "-B", "-r", f.Mnt).CombinedOutput(); err != nil || !strings.Contains(string(out), "no errors found") {
		t.Errorf("scrub after the rollback: %v\n%s", err, out)
	}
}

// lastResult parses the job result, the last line of `now --json`.
func lastResult(t *testing.T, stdout string) job.Result {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var res job.Result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("the job's result: %v\n%s", err, stdout)
	}
	return res
}
