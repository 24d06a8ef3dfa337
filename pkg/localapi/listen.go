package localapi

import (
	"log/slog"
	"os"
)

// DefaultSocket is the daemon's socket.
const DefaultSocket = "/run/ecssnap/ecssnap.sock"

// ListenOptions configure Listen.
type ListenOptions struct {
	Group  string       // the socket's group; "" means DefaultGroup
	Mode   os.FileMode  // the socket's mode; 0 means 0660
	Logger *slog.Logger // nil discards
}

func (o *ListenOptions) defaults() {
	if o.Group == "" {
		o.Group = DefaultGroup
	}
	if o.Mode == 0 {
		o.Mode = 0o660
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}
