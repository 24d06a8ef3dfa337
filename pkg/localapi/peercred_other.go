//go:build !linux

package localapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
)

// connContext cannot identify peers without SO_PEERCRED, so every request
// is answered 401 rather than let through unidentified.
func connContext(string, *slog.Logger) func(context.Context, net.Conn) context.Context {
	return func(ctx context.Context, _ net.Conn) context.Context {
		return withPeerError(ctx, fmt.Errorf("peer credentials: %w", errors.ErrUnsupported))
	}
}
