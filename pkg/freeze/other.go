//go:build !linux

package freeze

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// RunHelper is only implemented on Linux; elsewhere it returns exit code 2.
func RunHelper() int { return 2 }

// NewHelperFreezer returns a Freezer whose Prepare fails with
// errors.ErrUnsupported: freezing is Linux-only.
func NewHelperFreezer(exe string, logger *slog.Logger) Freezer { return unsupportedFreezer{} }

type unsupportedFreezer struct{}

func (unsupportedFreezer) Prepare(context.Context, []Target, SessionOptions) (Session, error) {
	return nil, fmt.Errorf("freeze: %w", errors.ErrUnsupported)
}

// Recover is only implemented on Linux.
func Recover(ctx context.Context, journalPath string, logger *slog.Logger) (RecoverReport, error) {
	return RecoverReport{}, fmt.Errorf("freeze recover: %w", errors.ErrUnsupported)
}

// SelfTest is only implemented on Linux.
func SelfTest(ctx context.Context, opts SelfTestOptions) (SelfTestReport, error) {
	return SelfTestReport{}, fmt.Errorf("freeze selftest: %w", errors.ErrUnsupported)
}
