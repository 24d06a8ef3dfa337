package consistency

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// volume is a layer between the disks and the filesystem: an LVM logical
// volume striped over them, or an md RAID0 array. The filesystem is made
// on the one device it gives. A clone of its disks carries the same IDs
// (PV and VG UUIDs, the array's UUID), so it is assembled under new ones.
type volume interface {
	// create builds the layer on devs and returns its device.
	create(ctx context.Context, devs []string) (string, error)
	// remove deactivates the layer create built.
	remove(ctx context.Context) error
	// assembleClone brings up the layer on a clone's devices under new
	// IDs and returns its device.
	assembleClone(ctx context.Context, devs []string) (string, error)
	// removeClone deactivates the clone's layer.
	removeClone(ctx context.Context) error
}

// Names of the experiment's volumes.
const (
	lvmVG      = "ecssnapcons"
	lvmCloneVG = "ecssnapconsclone"
	lvmLV      = "data"
	mdName     = "ecssnapcons"
	mdClone    = "ecssnapconsclone"
)

// lvmStriped is an LV striped over all the disks (lvcreate -i N), the
// layout the documentation warns per-disk snapshots break. The clone is
// renamed and given new UUIDs by vgimportclone, LVM's tool for exactly
// this (a hardware or cloud snapshot of the PVs).
type lvmStriped struct{}

// lvm runs an LVM command. Without udev (a container, a minimal host)
// LVM must make its device nodes itself: DM_DISABLE_UDEV says so.
func lvm(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "DM_DISABLE_UDEV=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, lastLine(string(out)))
	}
	return string(out), nil
}

// only restricts an LVM command to devs, whatever its devices file or
// filter say.
func only(devs []string) []string { return []string{"--devices", strings.Join(devs, ",")} }

func (lvmStriped) create(ctx context.Context, devs []string) (string, error) {
	steps := [][]string{
		append(append([]string{"pvcreate", "-ff", "-y"}, only(devs)...), devs...),
		append(append([]string{"vgcreate", "-y"}, only(devs)...), append([]string{lvmVG}, devs...)...),
		append(append([]string{"lvcreate", "-y", "-i", fmt.Sprint(len(devs)), "-I", "64k", "-l", "100%FREE", "-n", lvmLV}, only(devs)...), lvmVG),
	}
	for _, s := range steps {
		if _, err := lvm(ctx, s[0], s[1:]...); err != nil {
			return "", err
		}
	}
	return lvDevice(lvmVG)
}

func (lvmStriped) remove(ctx context.Context) error {
	_, err := lvm(ctx, "vgchange", "-an", lvmVG)
	return err
}

func (lvmStriped) assembleClone(ctx context.Context, devs []string) (string, error) {
	if _, err := lvm(ctx, "vgimportclone", append([]string{"--basevgname", lvmCloneVG}, devs...)...); err != nil {
		return "", err
	}
	if _, err := lvm(ctx, "vgchange", append(append([]string{"-ay"}, only(devs)...), lvmCloneVG)...); err != nil {
		return "", err
	}
	return lvDevice(lvmCloneVG)
}

func (lvmStriped) removeClone(ctx context.Context) error {
	_, err := lvm(ctx, "vgchange", "-an", lvmCloneVG)
	return err
}

// lvDevice is the kernel's device of the experiment's LV in vg.
func lvDevice(vg string) (string, error) {
	return filepath.EvalSymlinks(filepath.Join("/dev", vg, lvmLV))
}

// mdRAID0 is an md RAID0 array over all the disks. The clone is assembled
// under a new name with a new array UUID (--update=uuid), as the original
// is running with the old one.
type mdRAID0 struct{}

func (mdRAID0) create(ctx context.Context, devs []string) (string, error) {
	args := append([]string{"--create", "/dev/md/" + mdName, "--run", "--level=0", "--chunk=64", "--metadata=1.2",
		"--raid-devices=" + fmt.Sprint(len(devs))}, devs...)
	if _, err := command(ctx, "mdadm", args...); err != nil {
		return "", err
	}
	return filepath.EvalSymlinks("/dev/md/" + mdName)
}

func (mdRAID0) remove(ctx context.Context) error {
	_, err := command(ctx, "mdadm", "--stop", "/dev/md/"+mdName)
	return err
}

func (mdRAID0) assembleClone(ctx context.Context, devs []string) (string, error) {
	args := append([]string{"--assemble", "/dev/md/" + mdClone, "--run", "--update=uuid"}, devs...)
	if _, err := command(ctx, "mdadm", args...); err != nil {
		return "", err
	}
	return filepath.EvalSymlinks("/dev/md/" + mdClone)
}

func (mdRAID0) removeClone(ctx context.Context) error {
	_, err := command(ctx, "mdadm", "--stop", "/dev/md/"+mdClone)
	return err
}
