package cli_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/loopfs"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// standIn is a stand-in for the emulator's data plane, enough for ecssnap
// mount end to end until the real one is merged: disks are image files on
// loop devices; a guest view under ECSSNAP_ROOT shows the attached ones as
// virtio disks with their serials (as the real plane's view does); a
// created disk copies its snapshot's image; attach and detach make and
// drop its loop device and rebuild the view.
type standIn struct {
	t     *testing.T
	dir   string
	view  string
	mu    sync.Mutex
	snaps map[string]string // snapshot -> image
	disks map[string]string // disk -> image
	loops map[string]string // disk -> /dev/loopN
}

func (s *standIn) run(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		s.t.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// rebuild writes the guest view for the attached disks. Callers hold mu.
func (s *standIn) rebuild() {
	ids := make([]string, 0, len(s.loops))
	for id := range s.loops {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	tmp := s.view + ".new"
	_ = os.RemoveAll(tmp)
	mk := func(rel string) { _ = os.MkdirAll(filepath.Join(tmp, rel), 0o755) }
	file := func(rel, data string) {
		mk(filepath.Dir(rel))
		if err := os.WriteFile(filepath.Join(tmp, rel), []byte(data), 0o644); err != nil {
			s.t.Error(err)
		}
	}
	link := func(rel, target string) {
		mk(filepath.Dir(rel))
		if err := os.Symlink(target, filepath.Join(tmp, rel)); err != nil {
			s.t.Error(err)
		}
	}
	link("proc", "/proc")
	for _, d := range []string{"sys/block", "sys/class/block", "sys/dev/block", "sys/fs/btrfs", "dev/disk/by-id"} {
		mk(d)
	}
	names := map[string]string{} // loopN -> vdX
	for i, id := range ids {
		loop := filepath.Base(s.loops[id])
		name := "vd" + string(rune('b'+i))
		names[loop] = name
		num, _ := os.ReadFile("/sys/class/block/" + loop + "/dev")
		size, _ := os.ReadFile("/sys/class/block/" + loop + "/size")
		bus := fmt.Sprintf("sys/devices/standin/virtio%d", i)
		dir := bus + "/block/" + name
		link(bus+"/subsystem", "../../bus/virtio")
		file(dir+"/dev", string(num))
		file(dir+"/size", string(size))
		file(dir+"/serial", strings.TrimPrefix(id, "d-"))
		file(dir+"/ro", "0\n")
		file(dir+"/removable", "0\n")
		mk(dir + "/holders")
		mk(dir + "/slaves")
		link(dir+"/device", "../..")
		link(dir+"/subsystem", "../../../../../class/block")
		target := fmt.Sprintf("devices/standin/virtio%d/block/%s", i, name)
		link("sys/block/"+name, "../"+target)
		link("sys/class/block/"+name, "../../"+target)
		link("sys/dev/block/"+strings.TrimSpace(string(num)), "../../"+target)
		link("dev/disk/by-id/virtio-"+strings.TrimPrefix(id, "d-"), "../../"+name)
	}
	fsids, _ := os.ReadDir("/sys/fs/btrfs")
	for _, fsid := range fsids {
		members, _ := os.ReadDir(filepath.Join("/sys/fs/btrfs", fsid.Name(), "devices"))
		for _, m := range members {
			if name, ok := names[m.Name()]; ok {
				link("sys/fs/btrfs/"+fsid.Name()+"/devices/"+name, "../../../../block/"+name)
			}
		}
	}
	_ = os.RemoveAll(s.view)
	if err := os.Rename(tmp, s.view); err != nil {
		s.t.Error(err)
	}
}

// TestRestoreCommandsOnBytes: `snapshot-now --consistency fs` snapshots a
// two-disk btrfs (frozen, as a group) while it is written; more is written
// after; `ecssnap mount JOB` shows every record written before the job
// and none of the later markers, read-only; `ecssnap mounts` lists it;
// `ecssnap unmount JOB` leaves no disk. Then `ecssnap rollback JOB` from
// outside puts the original disks back at the job's point in time: the
// records there, the markers gone, the filesystem clean, the instance
// Running.
func TestRestoreCommandsOnBytes(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "losetup", "blkid", "btrfs", "btrfstune", "unshare", "mkfs.btrfs")
	if err := loopfs.Available("btrfs"); err != nil {
		testenv.Unavailable(t, err.Error())
	}
	dir := t.TempDir()
	fs, err := loopfs.Create(t.Context(), "btrfs", dir, loopfs.Options{Devices: 2, MountPoint: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Destroy() })
	s := &standIn{t: t, dir: t.TempDir(), view: filepath.Join(dir, "view"),
		snaps: map[string]string{}, disks: map[string]string{}, loops: map[string]string{}}
	for i, id := range []string{"d-btrfs0", "d-btrfs1"} {
		back, err := os.ReadFile(filepath.Join("/sys/block", filepath.Base(fs.Devices[i]), "loop/backing_file"))
		if err != nil {
			t.Fatal(err)
		}
		s.disks[id] = strings.TrimSpace(string(back))
		s.loops[id] = fs.Devices[i]
	}
	s.rebuild()

	sc := restoreScenario()
	sc.Disks = append(sc.Disks,
		ecsemu.Disk{ID: "d-btrfs0", Category: "cloud_essd", SizeGiB: 20, PerformanceLevel: "PL0", Portable: true},
		ecsemu.Disk{ID: "d-btrfs1", Category: "cloud_essd", SizeGiB: 20, PerformanceLevel: "PL0", Portable: true})
	h := newHarness(t, ecsemutest.WithScenario(sc))
	h.vars["ECSSNAP_ROOT"] = s.view

	// The group's create is held while the filesystem is frozen: its bytes
	// are copied then, as the data plane captures a group at one instant.
	hold := h.env.Emu.HoldCalls("CreateSnapshotGroup")
	captured := map[string]string{} // disk -> image
	go func() {
		<-hold.Arrived()
		for _, id := range []string{"d-btrfs0", "d-btrfs1"} {
			img := filepath.Join(s.dir, "snap-"+id+".img")
			if out, err := exec.Command("cp", "--sparse=always", s.disks[id], img).CombinedOutput(); err != nil {
				t.Errorf("capture %s: %v %s", id, err, out)
			}
			captured[id] = img
		}
		hold.Release()
	}()
	for i := range 20 {
		write(t, filepath.Join(fs.MountPoint, fmt.Sprintf("record-%02d", i)), "acknowledged\n")
	}
	code, stdout, stderr := h.run("ecssnap", "now", "--disks", "d-btrfs0,d-btrfs1", "--consistency", "fs", "--wait", "--json")
	if code != cli.ExitOK {
		t.Fatalf("now: exit %d\n%s\n%s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var res job.Result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatal(err)
	}
	if res.Consistency != "fs" || res.GroupID == "" {
		t.Fatalf("job: consistency %s group %q", res.Consistency, res.GroupID)
	}
	for _, sr := range res.Snapshots {
		s.snaps[sr.SnapshotID] = captured[sr.DiskID]
	}
	for i := range 5 {
		write(t, filepath.Join(fs.MountPoint, fmt.Sprintf("marker-%d", i)), "after the job\n")
	}

	before := h.env.Emu.DiskIDs()
	h.env.Emu.SetDiskHooks(ecsemu.DiskHooks{
		Created: func(disk, _, snap string) {
			s.mu.Lock()
			defer s.mu.Unlock()
			img := filepath.Join(s.dir, disk+".img")
			s.run("cp", "--sparse=always", s.snaps[snap], img)
			s.disks[disk] = img
		},
		Attached: func(disk, _, _ string) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.loops[disk] = s.run("losetup", "-f", "--show", s.disks[disk])
			s.rebuild()
		},
		Detached: func(disk, _, _ string) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.run("losetup", "-d", s.loops[disk])
			delete(s.loops, disk)
			s.rebuild()
		},
	})
	at := filepath.Join(dir, "restore")
	code, stdout, stderr = h.run("ecssnap", "mount", res.JobID, "--at", at)
	if code != cli.ExitOK {
		t.Fatalf("mount: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Cleanup(func() { h.run("ecssnap", "unmount", res.JobID) })
	target := filepath.Join(at, fs.MountPoint)
	if !strings.Contains(stdout, target) || !strings.Contains(stdout, "is mounted read-only") || !strings.Contains(stdout, "(from d-btrfs1)") {
		t.Errorf("mount output does not say what is where:\n%s", stdout)
	}
	for i := range 20 {
		if b, err := os.ReadFile(filepath.Join(target, fmt.Sprintf("record-%02d", i))); err != nil || string(b) != "acknowledged\n" {
			t.Errorf("record-%02d: %q %v", i, b, err)
		}
	}
	for i := range 5 {
		if _, err := os.Stat(filepath.Join(target, fmt.Sprintf("marker-%d", i))); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("marker-%d is in the mount: %v", i, err)
		}
	}
	if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o600); !errors.Is(err, unix.EROFS) {
		t.Errorf("write into the mount: %v, want EROFS", err)
	}
	if code, stdout, _ := h.run("ecssnap", "mounts"); code != cli.ExitOK || !strings.Contains(stdout, res.JobID) {
		t.Errorf("mounts: %s", stdout)
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
	if got := h.env.Emu.DiskIDs(); !slices.Equal(got, before) {
		t.Errorf("disks after unmount %v, want %v", got, before)
	}
	s.mu.Lock()
	if len(s.loops) != 2 {
		t.Errorf("clone devices left: %v", s.loops)
	}
	s.mu.Unlock()
	// The original is untouched and writable.
	write(t, filepath.Join(fs.MountPoint, "still-writable"), "yes\n")

	// Now the whole instance back, from outside: stopping it unmounts the
	// filesystem and closes its disks, ResetDisks copies each snapshot's
	// bytes over its disk, starting it opens and mounts them again.
	var check string
	h.env.Emu.SetDiskHooks(ecsemu.DiskHooks{
		Stopped: func(string) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.run("umount", fs.MountPoint)
			for _, id := range []string{"d-btrfs0", "d-btrfs1"} {
				_ = exec.Command("btrfs", "device", "scan", "--forget", s.loops[id]).Run()
				s.run("losetup", "-d", s.loops[id])
				delete(s.loops, id)
			}
			s.rebuild()
		},
		Reset: func(disk, snap string) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if img := s.snaps[snap]; img != "" {
				s.run("cp", "--sparse=always", img, s.disks[disk])
			}
		},
		Started: func(string) {
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, id := range []string{"d-btrfs0", "d-btrfs1"} {
				s.loops[id] = s.run("losetup", "-f", "--show", s.disks[id])
			}
			check = s.run("btrfs", "check", "--readonly", s.loops["d-btrfs0"])
			s.run("mount", "-t", "btrfs", "-o", "device="+s.loops["d-btrfs0"]+",device="+s.loops["d-btrfs1"], s.loops["d-btrfs0"], fs.MountPoint)
			s.rebuild()
		},
	})
	t.Cleanup(func() {
		_ = exec.Command("umount", fs.MountPoint).Run()
		for _, l := range s.loops {
			_ = exec.Command("losetup", "-d", l).Run()
		}
	})
	h.outside()
	code, stdout, stderr = h.run("ecssnap", "rollback", res.JobID, "--instance", h.env.InstanceID, "--region", h.env.RegionID, "--yes")
	if code != cli.ExitOK {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if st, _ := h.env.Emu.InstanceStatus(h.env.InstanceID); st != "Running" {
		t.Errorf("instance %s after the rollback", st)
	}
	if !strings.Contains(check, "no error found") {
		t.Errorf("btrfs check after the rollback:\n%s", check)
	}
	for i := range 20 {
		if b, err := os.ReadFile(filepath.Join(fs.MountPoint, fmt.Sprintf("record-%02d", i))); err != nil || string(b) != "acknowledged\n" {
			t.Errorf("record-%02d after the rollback: %q %v", i, b, err)
		}
	}
	for i := range 5 {
		if _, err := os.Stat(filepath.Join(fs.MountPoint, fmt.Sprintf("marker-%d", i))); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("marker-%d survived the rollback: %v", i, err)
		}
	}
	if _, err := os.Stat(filepath.Join(fs.MountPoint, "still-writable")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file written after the job survived the rollback: %v", err)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}
