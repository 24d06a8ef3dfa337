package localapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Error codes in the envelope. Clients switch on the code, not the message.
const (
	CodeBadRequest       = "bad_request"        // 400: malformed JSON, unknown field, invalid value
	CodeUnauthenticated  = "unauthenticated"    // 401: the caller's identity is unknown
	CodeForbidden        = "forbidden"          // 403: known caller, not allowed
	CodeBadHost          = "bad_host"           // 403: Host header other than Host
	CodeNotFound         = "not_found"          // 404: no such route or job
	CodeMethodNotAllowed = "method_not_allowed" // 405
	CodeTimeout          = "timeout"            // 408: the request body did not arrive in time
	CodeTooLarge         = "body_too_large"     // 413
	CodeBusy             = "busy"               // 429: too many requests or jobs waiting; retry later
	CodeInternal         = "internal"           // 500
	CodeUnavailable      = "unavailable"        // 503: e.g. the daemon is shutting down
)

// Error is the envelope's content, {"error":{"code":...,"message":...}},
// sent with every non-2xx status. A Backend may also return one to choose
// the status; Status does not travel.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// NewError returns an *Error for a Backend to return.
func NewError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

type envelope struct {
	Error *Error `json:"error"`
}

var (
	// ErrNotFound: a Backend returns it (wrapped) for an unknown job; the
	// client's *APIError matches it on a 404.
	ErrNotFound = errors.New("not found")
	// ErrAccessDenied matches a 403 and a socket the kernel refused to
	// connect for lack of permission.
	ErrAccessDenied = errors.New(accessDeniedMessage(DefaultGroup))
	// ErrDaemonNotRunning matches a dial that found no socket or nobody
	// listening, so that the CLI can run the engine itself instead.
	ErrDaemonNotRunning = errors.New("ecssnap daemon is not running: start it with `sudo systemctl start ecssnap`")
	// ErrBusy matches a 429: the caller's request rate or the job queue is
	// at its bound; the same request later will be served.
	ErrBusy = errors.New("the ecssnap daemon is busy: try again later")
	// ErrAlreadyRunning is returned by Listen when a daemon answers on the socket.
	ErrAlreadyRunning = errors.New("another ecssnap daemon is running")
)

// DefaultGroup is the group whose members may use the API besides root.
const DefaultGroup = "ecssnap"

func accessDeniedMessage(group string) string {
	return fmt.Sprintf("permission denied: run as root or add yourself to the %s group "+
		"(sudo usermod -aG %s $USER, then log in again)", group, group)
}

// APIError is a non-2xx answer as the client sees it. errors.Is matches
// ErrAccessDenied on 403 and ErrNotFound on 404.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("ecssnap daemon: %d %s", e.Status, http.StatusText(e.Status))
	}
	return e.Message
}

// Is maps statuses to the sentinels callers test for.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrAccessDenied:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrBusy:
		return e.Status == http.StatusTooManyRequests
	}
	return false
}

// writeError sends the envelope. Encoding a two-string struct cannot fail,
// and a write error means the client left, which nobody can be told.
func writeError(w http.ResponseWriter, status int, code, message string) {
	if rec, ok := w.(*recorder); ok {
		rec.code = code
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(envelope{Error: &Error{Code: code, Message: message}})
}
