package localapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/user"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/ecssnap/ecssnap/pkg/job"
)

// Backend is what the API serves; the daemon implements it. Errors may be
// an *Error (its Status and Code are sent), ErrNotFound (404), or anything
// else (500 with the error's text).
type Backend interface {
	// CreateJob queues req for caller, or joins it to a job of the same
	// session, and returns once req.Wait is reached.
	CreateJob(ctx context.Context, req CreateJobRequest, caller Caller) (*JobView, error)
	// ListJobs returns jobs newest first; limit 0 means the backend's default.
	ListJobs(ctx context.Context, limit int) ([]*JobView, error)
	GetJob(ctx context.Context, id string) (*JobView, error)
	// Events streams a job's events. The channel is closed when the job
	// ends; once ctx is done the backend must stop sending (it may close).
	Events(ctx context.Context, id string) (<-chan job.Event, error)
	Plan(ctx context.Context, req PlanRequest) (json.RawMessage, error)
	Disks(ctx context.Context) (json.RawMessage, error)
	Health(ctx context.Context) Health
	// Metrics writes the daemon's metrics in the Prometheus text format.
	Metrics(w io.Writer) error
}

// DefaultMaxBody caps request bodies. A job request is a few hundred bytes,
// or with a hook's package list (see MaxPackages) up to about 512 KiB.
const DefaultMaxBody = 1 << 20

// DefaultBodyTimeout bounds reading a request body, as the server's
// ReadHeaderTimeout bounds its headers: a client that promises a body and
// stops sending it would otherwise hold a goroutine, its buffers and an fd
// for as long as it keeps the connection open.
const DefaultBodyTimeout = 10 * time.Second

// HandlerOptions configure NewHandler.
type HandlerOptions struct {
	Logger  *slog.Logger // nil discards
	MaxBody int64        // request body cap; 0 means DefaultMaxBody
	// BodyTimeout bounds reading a request body; 0 means DefaultBodyTimeout.
	BodyTimeout time.Duration
	Group       string           // members may use the API besides root; "" means DefaultGroup
	Now         func() time.Time // for latency metrics and the rate limit; nil means time.Now
	// RateLimit bounds the costly requests of each uid but root.
	RateLimit RateLimit
}

type handler struct {
	b       Backend
	log     *slog.Logger
	maxBody int64
	bodyTTL time.Duration
	group   string
	gid     int // -1 when the group does not exist: root only
	now     func() time.Time
	mux     *http.ServeMux
	metrics *apiMetrics
	limit   *limiter
}

// NewHandler returns the local API over b. The group is looked up once,
// here: the socket was given the same group when the daemon started, and a
// group created later needs a daemon restart for both anyway.
func NewHandler(b Backend, opts HandlerOptions) http.Handler {
	h := &handler{b: b, log: opts.Logger, maxBody: opts.MaxBody, bodyTTL: opts.BodyTimeout, group: opts.Group, now: opts.Now, gid: -1,
		mux: http.NewServeMux(), metrics: newAPIMetrics()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBody
	}
	if h.bodyTTL <= 0 {
		h.bodyTTL = DefaultBodyTimeout
	}
	if h.group == "" {
		h.group = DefaultGroup
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.limit = newLimiter(opts.RateLimit, h.now)
	if gid, err := lookupGroup(h.group); err != nil {
		h.log.Warn("API group not found; only root may use the local API", "group", h.group, "err", err)
	} else {
		h.gid = gid
	}

	h.mux.HandleFunc("POST /v1/jobs", h.mutating(h.limited(h.createJob)))
	h.mux.HandleFunc("GET /v1/jobs", h.readOnly(h.listJobs))
	h.mux.HandleFunc("GET /v1/jobs/{id}", h.readOnly(h.getJob))
	h.mux.HandleFunc("GET /v1/jobs/{id}/events", h.readOnly(h.jobEvents))
	// Planning changes nothing, so it is a read although its input is a body.
	h.mux.HandleFunc("POST /v1/plan", h.readOnly(h.limited(h.plan)))
	h.mux.HandleFunc("GET /v1/disks", h.readOnly(h.disks))
	h.mux.HandleFunc("GET /v1/health", h.readOnly(h.health))
	h.mux.HandleFunc("GET /v1/metrics", h.readOnly(h.serveMetrics))
	return h
}

func lookupGroup(name string) (int, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return -1, err
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return -1, fmt.Errorf("group %s: gid %q: %w", name, g.Gid, err)
	}
	return gid, nil
}

// ServeHTTP applies what holds for every route (Host check, body cap,
// envelope for unrouted requests and panics, metrics) and then routes.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := h.record(w)
	route := "unmatched"
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.log.Error("local API handler panicked", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if !rec.wrote {
				writeError(rec, http.StatusInternalServerError, CodeInternal, "internal error")
			}
		}
		h.metrics.observe(route, rec)
	}()

	// Only the name our client sends (or none, as HTTP/1.0 allows). Anything
	// else came through something that thought it was talking to a web
	// site: a proxy, or a browser after a DNS rebinding.
	if r.Host != Host && r.Host != "" {
		writeError(rec, http.StatusForbidden, CodeBadHost, fmt.Sprintf("Host %q not accepted: the local API answers only to %q", r.Host, Host))
		return
	}
	if r.ContentLength > h.maxBody {
		writeError(rec, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("request body of %d bytes exceeds the limit of %d", r.ContentLength, h.maxBody))
		return
	}
	r.Body = http.MaxBytesReader(rec, r.Body, h.maxBody)

	// ServeMux answers unclean paths with redirects and unrouted ones in
	// plain text; the API answers both with the envelope instead.
	if p := r.URL.EscapedPath(); path.Clean(p) != p {
		writeError(rec, http.StatusNotFound, CodeNotFound, fmt.Sprintf("no such path %q", p))
		return
	}
	if _, pattern := h.mux.Handler(r); pattern != "" {
		route = pattern
		h.mux.ServeHTTP(rec, r)
		return
	}
	h.unrouted(rec, r)
}

// probeMethods are the methods tried to tell 405 from 404.
var probeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// unrouted answers 405 when the path exists under another method, else 404.
func (h *handler) unrouted(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range probeMethods {
		probe := *r
		probe.Method = m
		if _, pattern := h.mux.Handler(&probe); pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("no such path %q", r.URL.Path))
		return
	}
	for _, m := range allow {
		w.Header().Add("Allow", m)
	}
	writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, fmt.Sprintf("%s not allowed on %s: use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")))
}

// recorder notes the status and when the answer started, for the mutation
// log and the latency metric. Unwrap lets http.ResponseController reach the
// connection's Flush and deadlines through it.
type recorder struct {
	http.ResponseWriter
	now    func() time.Time
	start  time.Time
	first  time.Time // when the status was written
	status int
	wrote  bool
	code   string // the envelope's code, for error metrics
}

// record wraps w once; wrappers further in reuse the outer recorder.
func (h *handler) record(w http.ResponseWriter) *recorder {
	if rec, ok := w.(*recorder); ok {
		return rec
	}
	return &recorder{ResponseWriter: w, now: h.now, start: h.now()}
}

func (r *recorder) WriteHeader(status int) {
	if !r.wrote && status >= 200 {
		r.status, r.wrote, r.first = status, true, r.now()
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
