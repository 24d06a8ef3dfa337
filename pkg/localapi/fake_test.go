package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/job"

	"github.com/ecssnap/ecssnap/pkg/testenv"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeBackend serves canned answers and records what the handler passed.
type fakeBackend struct {
	mu      sync.Mutex
	creates []createCall
	jobs    map[string]*JobView
	// streams feed Events: the test sends and closes. ended is closed when
	// the handler's context for that stream is done.
	streams map[string]chan job.Event
	ended   chan struct{}
	err     error // when set, every method but Health fails with it
	panics  bool  // CreateJob panics
	raw     json.RawMessage
}

type createCall struct {
	req    CreateJobRequest
	caller Caller
}

func newFake() *fakeBackend {
	return &fakeBackend{
		jobs: map[string]*JobView{
			"j-1": {ID: "j-1", State: "done", Trigger: "apt", Created: t0, Updated: t0, Result: &job.Result{JobID: "j-1", Outcome: "succeeded"}},
			"j-2": {ID: "j-2", State: "waiting", Trigger: "manual", Created: t0.Add(time.Minute), Updated: t0.Add(time.Minute)},
		},
		streams: map[string]chan job.Event{},
		ended:   make(chan struct{}),
		raw:     json.RawMessage(`{"disks":[{"id":"d-1"}]}`),
	}
}

func (f *fakeBackend) CreateJob(_ context.Context, req CreateJobRequest, c Caller) (*JobView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panics {
		panic("backend bug")
	}
	if f.err != nil {
		return nil, f.err
	}
	f.creates = append(f.creates, createCall{req, c})
	// A request with a session that was seen before joins that job.
	for _, call := range f.creates[:len(f.creates)-1] {
		if req.Session != "" && call.req.Session == req.Session && !req.Force {
			return &JobView{ID: "j-joined", State: "running", Joined: true, Session: req.Session}, nil
		}
	}
	return &JobView{ID: "j-new", State: "queued", Trigger: req.Trigger, Reason: req.Reason, Session: req.Session, Caller: &c}, nil
}

func (f *fakeBackend) calls() []createCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.creates)
}

func (f *fakeBackend) ListJobs(_ context.Context, limit int) ([]*JobView, error) {
	if f.err != nil {
		return nil, f.err
	}
	out := []*JobView{f.jobs["j-2"], f.jobs["j-1"]}
	if limit > 0 && limit < len(out) {
		out = out[:limit]
	}
	return out, nil
}

func (f *fakeBackend) GetJob(_ context.Context, id string) (*JobView, error) {
	if f.err != nil {
		return nil, f.err
	}
	v, ok := f.jobs[id]
	if !ok {
		return nil, errors.Join(errors.New("job "+id), ErrNotFound)
	}
	return v, nil
}

func (f *fakeBackend) Events(ctx context.Context, id string) (<-chan job.Event, error) {
	if f.err != nil {
		return nil, f.err
	}
	f.mu.Lock()
	src, ok := f.streams[id]
	f.mu.Unlock()
	if !ok {
		return nil, ErrNotFound
	}
	// Relay so that the stream stops when the handler's context ends, as
	// the Backend contract asks, and the test can observe that it did.
	out := make(chan job.Event)
	go func() {
		defer close(out)
		defer close(f.ended)
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-src:
				if !ok {
					return
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

func (f *fakeBackend) Plan(_ context.Context, req PlanRequest) (json.RawMessage, error) {
	if f.err != nil {
		return nil, f.err
	}
	return json.RawMessage(`{"disks":"` + req.Disks.String() + `"}`), nil
}

func (f *fakeBackend) Disks(context.Context) (json.RawMessage, error) {
	if f.err != nil {
		return nil, f.err
	}
	return f.raw, nil
}

func (f *fakeBackend) Health(context.Context) Health {
	return Health{Status: "ok", PID: 1, Started: t0, Queued: 2}
}

func (f *fakeBackend) Metrics(w io.Writer) error {
	if f.err != nil {
		return f.err
	}
	_, err := io.WriteString(w, "# TYPE ecssnap_jobs_total counter\necssnap_jobs_total{outcome=\"succeeded\"} 3\n")
	return err
}

// stepClock advances 5ms per call, so latencies are known without sleeping.
func stepClock() func() time.Time {
	var mu sync.Mutex
	now := t0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(5 * time.Millisecond)
		return now
	}
}

var (
	root     = Caller{UID: 0, GID: 0, PID: 100, Cmdline: "ecssnap now"}
	outsider = Caller{UID: 1000, GID: 1000, PID: 200, Groups: []int{1000, 27}, Cmdline: "curl --unix-socket"}
)

// newTestHandler returns the handler over b with a log sink and a stepping
// clock; the API group is "root" (gid 0), which exists everywhere, so that
// membership can be tested without creating a group.
func newTestHandler(t *testing.T, b Backend, opts HandlerOptions) (http.Handler, *testenv.LogSink) {
	t.Helper()
	sink := &testenv.LogSink{}
	opts.Logger = slog.New(sink)
	if opts.Now == nil {
		opts.Now = stepClock()
	}
	if opts.Group == "" {
		opts.Group = "root"
	}
	return NewHandler(b, opts), sink
}

// newRequest builds a request as the client sends it.
func newRequest(method, path, body string) *http.Request {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	req.Host = Host
	return req
}

// serve runs req through h as caller; nil means no peer credentials.
func serve(h http.Handler, req *http.Request, caller *Caller) *httptest.ResponseRecorder {
	if caller != nil {
		req = req.WithContext(WithCaller(req.Context(), *caller))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// envelopeOf decodes an error answer, failing unless it is the envelope.
func envelopeOf(t *testing.T, rec *httptest.ResponseRecorder) Error {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error answer has Content-Type %q; body %q", ct, rec.Body)
	}
	var env struct {
		Error *Error `json:"error"`
	}
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil || env.Error == nil || env.Error.Code == "" || env.Error.Message == "" {
		t.Fatalf("not the error envelope: %v, %+v", err, env.Error)
	}
	return *env.Error
}
