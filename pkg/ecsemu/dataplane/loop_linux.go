package dataplane

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Host paths of the loop driver.
const (
	loopControl = "/dev/loop-control"
	loopDevFmt  = "/dev/loop%d"
	// loopNamePrefix marks our loop devices in their lo_file_name, so a
	// later run can tell them from everyone else's.
	loopNamePrefix = "ecsemu:"
)

// loopDevice is a disk's loop device. The data plane keeps it open: with
// LO_FLAGS_AUTOCLEAR, the kernel detaches the device when its last opener
// closes it, so even a SIGKILLed emulator leaves no loop device behind
// (once the guest has unmounted what it mounted).
type loopDevice struct {
	path string
	f    *os.File
}

// Attach makes disk id appear to the host as a loop device over its served
// file and returns the device path. Attaching an attached disk returns its
// device.
func (p *Plane) Attach(id string) (string, error) {
	d, err := p.disk(id)
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	if d.loop != nil {
		dev := d.loop.path
		d.mu.Unlock()
		return dev, nil
	}
	d.mu.Unlock()
	served, err := p.servedPath(id)
	if err != nil {
		return "", err
	}
	loop, err := attachLoop(served, loopNamePrefix+id)
	if err != nil {
		return "", fmt.Errorf("attach disk %s: %w", id, err)
	}
	d.mu.Lock()
	if d.loop != nil { // a concurrent Attach won
		dev := d.loop.path
		d.mu.Unlock()
		loop.detach()
		return dev, nil
	}
	d.loop = loop
	d.mu.Unlock()
	p.log.Info("data plane disk attached", "disk", id, "device", loop.path)
	p.refreshView()
	return loop.path, nil
}

// Detach removes disk id's loop device. If a mount still holds it, the
// kernel removes it when the mount goes (autoclear).
func (p *Plane) Detach(id string) error {
	d, err := p.disk(id)
	if err != nil {
		return err
	}
	if err := d.detach(); err != nil {
		return err
	}
	p.refreshView()
	return nil
}

// Device returns disk id's loop device, or "" when detached.
func (p *Plane) Device(id string) string {
	d, err := p.disk(id)
	if err != nil {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.loop == nil {
		return ""
	}
	return d.loop.path
}

func (d *disk) detach() error {
	d.mu.Lock()
	loop := d.loop
	d.loop = nil
	d.mu.Unlock()
	if loop == nil {
		return nil
	}
	return loop.detach()
}

// attachLoop binds backing to a free loop device. Other processes take
// loop devices at the same time, so a device found free may be taken
// before it is configured (EBUSY): another is tried.
func attachLoop(backing, name string) (*loopDevice, error) {
	ctl, err := os.OpenFile(loopControl, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", loopControl, err)
	}
	defer ctl.Close()
	back, err := os.OpenFile(backing, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", backing, err)
	}
	defer back.Close()
	var lastErr error
	for range 20 {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return nil, fmt.Errorf("find a free loop device: %w", err)
		}
		path := fmt.Sprintf(loopDevFmt, n)
		dev, err := openLoop(path)
		if err != nil {
			return nil, err
		}
		cfg := unix.LoopConfig{Fd: uint32(back.Fd())}
		cfg.Info.Flags = unix.LO_FLAGS_AUTOCLEAR
		copy(cfg.Info.File_name[:], name)
		err = unix.IoctlLoopConfigure(int(dev.Fd()), &cfg)
		if err == nil {
			return &loopDevice{path: path, f: dev}, nil
		}
		dev.Close()
		if !errors.Is(err, unix.EBUSY) {
			return nil, fmt.Errorf("configure %s: %w", path, err)
		}
		lastErr = err
	}
	return nil, fmt.Errorf("no loop device stayed free: %w", lastErr)
}

// openLoop opens a loop device node, waiting briefly for devtmpfs to show
// one LOOP_CTL_GET_FREE just created.
func openLoop(path string) (*os.File, error) {
	for i := 0; ; i++ {
		f, err := os.OpenFile(path, os.O_RDWR|unix.O_CLOEXEC, 0)
		if err == nil || !errors.Is(err, os.ErrNotExist) || i == 50 {
			if err != nil {
				return nil, fmt.Errorf("open %s: %w", path, err)
			}
			return f, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// detach clears the device (deferred by the kernel while a mount holds
// it) and drops our opener.
func (l *loopDevice) detach() error {
	err := unix.IoctlSetInt(int(l.f.Fd()), unix.LOOP_CLR_FD, 0)
	if errors.Is(err, unix.ENXIO) {
		err = nil // already cleared
	}
	l.f.Close()
	if err != nil {
		return fmt.Errorf("detach %s: %w", l.path, err)
	}
	return nil
}

// loopName reads a loop device's lo_file_name (ours start with
// loopNamePrefix).
func loopName(f *os.File) (string, error) {
	info, err := unix.IoctlLoopGetStatus64(int(f.Fd()))
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(info.File_name[:]), "\x00"), nil
}
