package localapi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// DefaultProcRoot is where the server reads callers' groups and command lines.
const DefaultProcRoot = "/proc"

// ServerOptions configure NewServer and ConnContext.
type ServerOptions struct {
	Logger   *slog.Logger // nil discards
	ProcRoot string       // "" means DefaultProcRoot
}

func (o *ServerOptions) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ProcRoot == "" {
		o.ProcRoot = DefaultProcRoot
	}
}

// ConnContext returns an http.Server.ConnContext that records each
// connection's caller from its peer credentials, for the handler's
// authorization. Without it every request is answered 401.
func ConnContext(opts ServerOptions) func(context.Context, net.Conn) context.Context {
	opts.defaults()
	return connContext(opts.ProcRoot, opts.Logger)
}

// NewServer returns an HTTP/1.1 server for h on the local socket, with
// caller identification and timeouts that suit a local API. There is no
// WriteTimeout: job creation may wait for a job and event streams last as
// long as their job; streams bound each write themselves.
func NewServer(h http.Handler, opts ServerOptions) *http.Server {
	opts.defaults()
	return &http.Server{
		Handler:           h,
		ConnContext:       connContext(opts.ProcRoot, opts.Logger),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
	}
}
