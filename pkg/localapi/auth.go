package localapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
)

// peerKey keys the connection's peer in a request context.
type peerKey struct{}

// peer is what ConnContext learned about a connection: the caller, or why
// it could not be identified (which makes every request on it a 401).
type peer struct {
	caller Caller
	err    error
}

// WithCaller returns ctx carrying c as the authenticated caller. The server
// sets it per connection from SO_PEERCRED; tests and in-process callers of
// the handler use it directly.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, peerKey{}, &peer{caller: c})
}

// withPeerError marks ctx as coming from a caller that cannot be identified.
func withPeerError(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, peerKey{}, &peer{err: err})
}

// CallerFromContext returns the authenticated caller, if any.
func CallerFromContext(ctx context.Context) (Caller, bool) {
	p, _ := ctx.Value(peerKey{}).(*peer)
	if p == nil || p.err != nil {
		return Caller{}, false
	}
	return p.caller, true
}

// allowed reports whether c may use the API: root, or a process whose
// effective or supplementary groups include the API group. These are the
// credentials the kernel checked against the socket's mode when the caller
// connected; checking again here keeps the API closed if the socket's mode
// or group is ever wrong, and lets a uid outside the group get a 403 that
// explains itself rather than a bare EACCES.
func (h *handler) allowed(c Caller) bool {
	if c.UID == 0 {
		return true
	}
	if h.gid < 0 {
		return false
	}
	return c.GID == h.gid || slices.Contains(c.Groups, h.gid)
}

// authorize answers 401 or 403 itself and returns false when r's caller may
// not proceed.
func (h *handler) authorize(w http.ResponseWriter, r *http.Request, mutation bool) (Caller, bool) {
	p, _ := r.Context().Value(peerKey{}).(*peer)
	if p == nil {
		p = &peer{err: errors.New("no peer credentials on this connection")}
	}
	if p.err != nil {
		h.log.Warn("local API caller not identified", "method", r.Method, "path", r.URL.Path, "err", p.err)
		writeError(w, http.StatusUnauthorized, CodeUnauthenticated, "cannot identify the caller: "+p.err.Error())
		return Caller{}, false
	}
	c := p.caller
	if !h.allowed(c) {
		// A refused mutation is worth a warning; a refused read is routine
		// (a user running `ecssnap list` without the group).
		level := slog.LevelInfo
		if mutation {
			level = slog.LevelWarn
		}
		h.log.Log(r.Context(), level, "local API access denied", "method", r.Method, "path", r.URL.Path,
			"uid", c.UID, "gid", c.GID, "pid", c.PID, "cmdline", c.Cmdline)
		writeError(w, http.StatusForbidden, CodeForbidden, accessDeniedMessage(h.group))
		return Caller{}, false
	}
	return c, true
}

// readOnly lets root and group members through.
func (h *handler) readOnly(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := h.authorize(w, r, false); ok {
			next(w, r)
		}
	}
}

// mutating lets the same callers through as readOnly, and logs one line per
// request with who asked (uid, pid, command line), what the handler noted
// about the request (see noteMutation) and the status it answered.
func (h *handler) mutating(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := h.authorize(w, r, true)
		if !ok {
			return
		}
		m := &mutation{}
		rec := h.record(w)
		next(rec, r.WithContext(context.WithValue(r.Context(), mutationKey{}, m)))
		h.log.Info("local API mutation", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"uid", c.UID, "gid", c.GID, "pid", c.PID, "cmdline", c.Cmdline, slog.Group("request", m.attrs...))
	}
}

type mutationKey struct{}

// mutation collects a handler's summary of the request for the log line.
type mutation struct{ attrs []any }

// noteMutation adds key/value pairs to the mutation's log line.
func noteMutation(ctx context.Context, args ...any) {
	if m, ok := ctx.Value(mutationKey{}).(*mutation); ok {
		m.attrs = append(m.attrs, args...)
	}
}
