package emucli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/dataplane"
)

// guestView is what --data-dir prints: where the view is and the devices.
type guestView struct {
	root    string
	devices map[string]string
	serials map[string]string // disk ID -> serial of the attached disks
}

// refreshOnHangup rebuilds the view on every SIGHUP until ctx ends: btrfs
// lists a filesystem's member devices only while it is mounted, so the
// view taken at start knows none.
func (v *guestView) refreshOnHangup(ctx context.Context, emu *ecsemu.Emulator, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := emu.DataPlane().RefreshGuestView(); err != nil {
					logger.Error("guest view", "err", err)
				} else {
					logger.Info("guest view rebuilt", "root", v.root)
				}
			}
		}
	}()
}

// startDataPlane serves the data plane in dir. It needs root, /dev/fuse
// and loop devices, and says so when one is missing.
func startDataPlane(dir string, logger *slog.Logger) (*dataplane.Plane, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the data plane needs root (it mounts FUSE and makes loop devices)")
	}
	for _, dev := range []string{"/dev/fuse", "/dev/loop-control"} {
		if _, err := os.Stat(dev); err != nil {
			return nil, fmt.Errorf("the data plane needs %s: %w", dev, err)
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	plane, err := dataplane.New(dataplane.Options{Dir: abs, Logger: logger.With("component", "dataplane")})
	if err != nil {
		return nil, err
	}
	if err := plane.Serve(); err != nil {
		plane.Close()
		return nil, err
	}
	return plane, nil
}

// attachDisks attaches the disks of the emulated instance and writes the
// guest view in dir/guest.
func attachDisks(emu *ecsemu.Emulator, dir string) (*guestView, error) {
	sc := emu.Scenario()
	plane := emu.DataPlane()
	v := &guestView{root: filepath.Join(plane.Dir(), "guest"), devices: map[string]string{}, serials: map[string]string{}}
	serials := v.serials
	for _, d := range sc.Disks {
		if d.Detached || (d.InstanceID != "" && d.InstanceID != sc.Instance.ID) {
			continue
		}
		dev, err := plane.Attach(d.ID)
		if err != nil {
			return nil, err
		}
		v.devices[d.ID] = dev
		if d.Serial != "-" {
			serials[d.ID] = d.Serial
		}
	}
	// Kept current by the data plane: disks attached and detached later
	// (AttachDisk, DetachDisk, a stop and start) show up or go.
	if err := plane.KeepGuestView(v.root, serials); err != nil {
		return nil, err
	}
	return v, nil
}
