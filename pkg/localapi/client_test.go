package localapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/job"
)

// handlerTransport carries the client's requests straight to a handler, as
// caller: what an injected Transport is for.
type handlerTransport struct {
	h      http.Handler
	caller Caller
}

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r.Host = r.URL.Host // as the server would see it
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r.WithContext(WithCaller(r.Context(), t.caller)))
	return rec.Result(), nil
}

func testClient(t *testing.T, caller Caller) (*Client, *fakeBackend) {
	f := newFake()
	h, _ := newTestHandler(t, f, HandlerOptions{})
	return &Client{Socket: "/nonexistent", Transport: handlerTransport{h, caller}}, f
}

func TestClientMethods(t *testing.T) {
	c, f := testClient(t, root)
	ctx := context.Background()
	v, err := c.CreateJob(ctx, CreateJobRequest{Trigger: "dnf", Timeout: Duration(90e9), Wait: WaitCreated})
	if err != nil || v.ID != "j-new" {
		t.Fatalf("CreateJob = %+v, %v", v, err)
	}
	if got := f.calls()[0].req; got.Trigger != "dnf" || got.Timeout != Duration(90e9) || got.Wait != WaitCreated {
		t.Fatalf("request reached the backend as %+v", got)
	}
	jobs, err := c.ListJobs(ctx, 1)
	if err != nil || len(jobs) != 1 || jobs[0].ID != "j-2" {
		t.Fatalf("ListJobs(1) = %v, %v", jobs, err)
	}
	j, err := c.GetJob(ctx, "j-1")
	if err != nil || j.Result == nil || j.Result.Outcome != "succeeded" {
		t.Fatalf("GetJob = %+v, %v", j, err)
	}
	plan, err := c.Plan(ctx, PlanRequest{})
	if err != nil || string(plan) != `{"disks":"all"}` {
		t.Fatalf("Plan = %s, %v", plan, err)
	}
	disks, err := c.Disks(ctx)
	if err != nil || !strings.Contains(string(disks), "d-1") {
		t.Fatalf("Disks = %s, %v", disks, err)
	}
	h, err := c.Health(ctx)
	if err != nil || h.Status != "ok" || h.Queued != 2 {
		t.Fatalf("Health = %+v, %v", h, err)
	}
	var m strings.Builder
	if err := c.Metrics(ctx, &m); err != nil || !strings.Contains(m.String(), "ecssnap_api_requests_total") {
		t.Fatalf("Metrics = %q, %v", m.String(), err)
	}
}

func TestClientTypedErrors(t *testing.T) {
	ctx := context.Background()
	c, _ := testClient(t, root)
	_, err := c.GetJob(ctx, "j-9")
	var apiErr *APIError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &apiErr) || apiErr.Status != 404 || apiErr.Code != CodeNotFound {
		t.Fatalf("GetJob(unknown) = %#v", err)
	}
	if errors.Is(err, ErrAccessDenied) {
		t.Fatal("a 404 matches ErrAccessDenied")
	}
	// An ID with a slash stays one path segment.
	if _, err := c.GetJob(ctx, "../health"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetJob(../health) = %v", err)
	}

	out, _ := testClient(t, outsider)
	_, err = out.CreateJob(ctx, CreateJobRequest{})
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "sudo usermod -aG") {
		t.Fatalf("outsider CreateJob = %v", err)
	}
	if err := out.Events(ctx, "j-1", func(job.Event) {}); !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("outsider Events = %v", err)
	}
}

func TestClientNonEnvelopeError(t *testing.T) {
	rt := roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 502, Status: "502 Bad Gateway", Header: http.Header{},
			Body: io.NopCloser(strings.NewReader("<html>proxy error</html>"))}, nil
	})
	_, err := (&Client{Transport: rt}).Health(context.Background())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 502 || apiErr.Code != "" || !strings.Contains(apiErr.Message, "proxy error") {
		t.Fatalf("non-envelope answer = %#v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
