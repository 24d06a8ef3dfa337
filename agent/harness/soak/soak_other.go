//go:build !linux

package soak

import (
	"context"
	"errors"
	"fmt"
)

// Run needs Linux: loop devices, FIFREEZE and /proc.
func Run(context.Context, Options) (*Report, error) {
	return nil, fmt.Errorf("the soak runs on Linux only: %w", errors.ErrUnsupported)
}
