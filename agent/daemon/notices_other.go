//go:build !linux

package daemon

import (
	"context"
	"errors"
)

// watchNotices needs Linux's uevents.
func watchNotices(context.Context, func(notice)) error {
	return errors.ErrUnsupported
}
