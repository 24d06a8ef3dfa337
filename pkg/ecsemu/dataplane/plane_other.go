//go:build !linux

package dataplane

import "errors"

// loopDevice exists on Linux only.
type loopDevice struct{}

type server struct{}

func (s *server) close() error { return nil }

// Serve needs FUSE and loop devices: Linux only.
func (p *Plane) Serve() error { return errors.ErrUnsupported }

func (p *Plane) serveDisk(d *disk)   {}
func (p *Plane) unserveDisk(d *disk) {}

// Attach needs loop devices: Linux only.
func (p *Plane) Attach(id string) (string, error) { return "", errors.ErrUnsupported }

// Detach needs loop devices: Linux only.
func (p *Plane) Detach(id string) error { return errors.ErrUnsupported }

// Device is always "" without loop devices.
func (p *Plane) Device(id string) string { return "" }

func (d *disk) detach() error { return nil }

// GuestDisk is one disk as the guest view shows it.
type GuestDisk struct {
	DiskID, Name, Serial, Device string
}

// WriteGuestView needs loop devices: Linux only.
func (p *Plane) WriteGuestView(root string, serials map[string]string) ([]GuestDisk, error) {
	return nil, errors.ErrUnsupported
}
