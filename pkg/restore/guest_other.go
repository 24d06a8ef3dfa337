//go:build !linux

package restore

import (
	"context"
	"errors"
	"log/slog"
)

// LinuxGuest mounts clones on Linux only; elsewhere every method fails.
type LinuxGuest struct {
	Root      string
	DevDir    string
	DeviceMap func(diskID string) (string, bool)
	Logger    *slog.Logger
}

func (g *LinuxGuest) Device(string, string) (string, error) { return "", errors.ErrUnsupported }

func (g *LinuxGuest) Mount(context.Context, []Clone, string) ([]MountPoint, error) {
	return nil, errors.ErrUnsupported
}

func (g *LinuxGuest) Unmount(context.Context, []MountPoint) error { return errors.ErrUnsupported }
