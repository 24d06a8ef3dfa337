//go:build !linux

package fleet

import "errors"

// peakRSS is only known on Linux.
func peakRSS() (int64, error) { return 0, errors.ErrUnsupported }
