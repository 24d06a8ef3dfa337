//go:build !linux

package localapi

import (
	"errors"
	"fmt"
	"net"
)

// Listen is Linux-only: without SO_PEERCRED the API could not tell callers
// apart, so it does not listen at all.
func Listen(path string, _ ListenOptions) (net.Listener, error) {
	return nil, fmt.Errorf("listen on %s: %w", path, errors.ErrUnsupported)
}
