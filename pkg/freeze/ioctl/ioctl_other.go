//go:build !linux

package ioctl

import (
	"errors"
	"fmt"
)

// Freeze is only implemented on Linux.
func Freeze(fd int) error { return fmt.Errorf("FIFREEZE: %w", errors.ErrUnsupported) }

// Thaw is only implemented on Linux.
func Thaw(fd int) error { return fmt.Errorf("FITHAW: %w", errors.ErrUnsupported) }
