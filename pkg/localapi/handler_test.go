package localapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/job"
)

func TestRoutes(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string // a fragment of the body
	}{
		{"create", "POST", "/v1/jobs", `{"trigger":"apt","reason":"upgrade","disks":{"kind":"all"},"wait":"created","timeout":"10m"}`, 201, `"id":"j-new"`},
		{"list", "GET", "/v1/jobs", "", 200, `{"jobs":[{"id":"j-2"`},
		{"list limit", "GET", "/v1/jobs?limit=1", "", 200, `"id":"j-2"`},
		{"list bad limit", "GET", "/v1/jobs?limit=-1", "", 400, `"code":"bad_request"`},
		{"get", "GET", "/v1/jobs/j-1", "", 200, `"outcome":"succeeded"`},
		{"get unknown", "GET", "/v1/jobs/j-9", "", 404, `"code":"not_found"`},
		{"events unknown", "GET", "/v1/jobs/j-9/events", "", 404, `"code":"not_found"`},
		{"plan", "POST", "/v1/plan", `{"disks":{"kind":"ids","ids":["d-1"]}}`, 200, `{"disks":"d-1"}`},
		{"plan invalid selection", "POST", "/v1/plan", `{"disks":{"kind":"ids"}}`, 400, `needs at least one disk`},
		{"disks", "GET", "/v1/disks", "", 200, `{"disks":[{"id":"d-1"}]}`},
		{"health", "GET", "/v1/health", "", 200, `"status":"ok"`},
		{"metrics", "GET", "/v1/metrics", "", 200, `ecssnap_jobs_total{outcome="succeeded"} 3`},
		{"unknown path", "GET", "/v2/jobs", "", 404, `"code":"not_found"`},
		{"unknown under v1", "GET", "/v1/jobs/j-1/frobnicate", "", 404, `"code":"not_found"`},
		{"root", "GET", "/", "", 404, `"code":"not_found"`},
		{"unclean path", "GET", "/v1/../v1/jobs", "", 404, `"code":"not_found"`},
		{"wrong method", "DELETE", "/v1/jobs/j-1", "", 405, `"code":"method_not_allowed"`},
		{"wrong method on plan", "GET", "/v1/plan", "", 405, `POST`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newTestHandler(t, newFake(), HandlerOptions{})
			rec := serve(h, newRequest(tt.method, tt.path, tt.body), &root)
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
				t.Fatalf("%s %s = %d %s; want %d with %q", tt.method, tt.path, rec.Code, rec.Body, tt.status, tt.want)
			}
			if rec.Code >= 400 {
				envelopeOf(t, rec)
			}
		})
	}
}

func TestMethodNotAllowedListsAllowed(t *testing.T) {
	h, _ := newTestHandler(t, newFake(), HandlerOptions{})
	rec := serve(h, newRequest("PUT", "/v1/jobs", `{}`), &root)
	if rec.Code != 405 {
		t.Fatalf("PUT /v1/jobs = %d", rec.Code)
	}
	if got := rec.Header().Values("Allow"); !slices.Equal(got, []string{"GET", "POST"}) {
		t.Fatalf("Allow = %v, want [GET POST]", got)
	}
}

func TestCreateJobPassesRequestAndCaller(t *testing.T) {
	f := newFake()
	h, sink := newTestHandler(t, f, HandlerOptions{})
	body := `{"trigger":"apt","reason":"upgrade","disks":{"kind":"data"},"wait":"completed","timeout":"90s",
		"retention_days":3,"tags":[{"key":"k","value":"v"}],"dry_run":true,"mounts":["/"],"force":true,
		"consistency":"app","require":"fs","allow_inconsistent":true,
		"session":"pid=42,start=7","cmdline":"apt-get upgrade -y"}`
	rec := serve(h, newRequest("POST", "/v1/jobs", body), &root)
	if rec.Code != 201 {
		t.Fatalf("create = %d %s", rec.Code, rec.Body)
	}
	calls := f.calls()
	if len(calls) != 1 {
		t.Fatalf("backend saw %d creates", len(calls))
	}
	got := calls[0]
	if fmt.Sprint(got.caller) != fmt.Sprint(root) {
		t.Errorf("caller = %+v, want %+v", got.caller, root)
	}
	jr, err := got.req.JobRequest()
	if err != nil || jr.Trigger != "apt" || jr.Disks.Kind != "data" || !jr.Wait || jr.Timeout.String() != "1m30s" ||
		jr.RetentionDays != 3 || len(jr.Tags) != 1 || !jr.DryRun || !slices.Equal(jr.Mounts, []string{"/"}) ||
		jr.Consistency != job.LevelApp || jr.Require != job.LevelFS || !jr.AllowInconsistent {
		t.Errorf("job request = %+v, %v", jr, err)
	}
	if !got.req.Force || got.req.Session != "pid=42,start=7" || !slices.Equal(got.req.Mounts, []string{"/"}) {
		t.Errorf("queue options lost: %+v", got.req)
	}
	// One log line for the mutation: who, what, and the outcome.
	lines := sink.Find("local API mutation", "uid=0", "pid=100", "cmdline=ecssnap now",
		"trigger=apt", "claimed_cmdline=apt-get upgrade -y", "status=201", "job=j-new")
	if len(lines) != 1 {
		t.Fatalf("want one mutation log line; log:\n%s", sink)
	}

	// The same session again joins the job: 200, not 201.
	rec = serve(h, newRequest("POST", "/v1/jobs", `{"session":"pid=42,start=7"}`), &root)
	var v JobView
	if err := json.Unmarshal(rec.Body.Bytes(), &v); rec.Code != 200 || err != nil || !v.Joined {
		t.Fatalf("joined create = %d %s", rec.Code, rec.Body)
	}
}

func TestMalformedRequests(t *testing.T) {
	tests := []struct {
		name, body string
		want       string
	}{
		{"empty", "", "request body is empty"},
		{"syntax", `{"trigger":}`, "malformed JSON at byte 12"},
		{"truncated", `{"trigger":"apt"`, "ends in the middle"},
		{"unknown field", `{"trigger":"apt","disk":"all"}`, `unknown field "disk"`},
		{"wrong type", `{"force":"yes"}`, "field force: expected bool, got JSON string"},
		{"bad duration", `{"timeout":"ten minutes"}`, `invalid duration`},
		{"duration as number", `{"timeout":600}`, `duration 600 must be a string`},
		{"two values", `{}{}`, "more than one JSON value"},
		{"trailing garbage", `{} x`, "malformed JSON"},
		{"array", `[]`, "expected localapi.CreateJobRequest"},
		{"null", `null`, "expected a JSON object"},
		{"null after space", " \n null", "expected a JSON object"},
		{"bad wait", `{"wait":"forever"}`, `wait "forever"`},
		{"bad selection", `{"disks":{"kind":"some"}}`, `unknown kind "some"`},
		{"negative timeout", `{"timeout":"-1s"}`, "timeout must not be negative"},
		{"unknown level", `{"consistency":"perfect"}`, `consistency "perfect": want crash, fs or app`},
		{"unknown required level", `{"require":"total"}`, `require: consistency "total"`},
		{"too many packages", `{"packages":[` + strings.Repeat(`"p",`, MaxPackages) + `"p"]}`, "packages: 2001 entries, at most 2000"},
		{"long package line", `{"packages":["` + strings.Repeat("x", MaxPackageLine+1) + `"]}`, "packages: an entry of 257 bytes, at most 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			h, _ := newTestHandler(t, f, HandlerOptions{})
			rec := serve(h, newRequest("POST", "/v1/jobs", tt.body), &root)
			if rec.Code != 400 {
				t.Fatalf("status %d %s, want 400", rec.Code, rec.Body)
			}
			e := envelopeOf(t, rec)
			if e.Code != CodeBadRequest || !strings.Contains(e.Message, tt.want) {
				t.Fatalf("error %+v, want bad_request mentioning %q", e, tt.want)
			}
			if len(f.calls()) != 0 {
				t.Fatal("backend called for a malformed request")
			}
		})
	}
}

func TestBodyCap(t *testing.T) {
	big := `{"reason":"` + strings.Repeat("x", 2000) + `"}`
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			f := newFake()
			h, _ := newTestHandler(t, f, HandlerOptions{MaxBody: 1024})
			req := newRequest("POST", "/v1/jobs", big)
			if chunked {
				req.ContentLength = -1 // unknown length: only reading finds out
			}
			rec := serve(h, req, &root)
			if e := envelopeOf(t, rec); rec.Code != 413 || e.Code != CodeTooLarge || !strings.Contains(e.Message, "1024") {
				t.Fatalf("oversized body = %d %+v", rec.Code, e)
			}
			if len(f.calls()) != 0 {
				t.Fatal("backend called for an oversized request")
			}
		})
	}
	h, _ := newTestHandler(t, newFake(), HandlerOptions{})
	if rec := serve(h, newRequest("POST", "/v1/jobs", big), &root); rec.Code != 201 {
		t.Fatalf("2 KB body under the default cap = %d %s", rec.Code, rec.Body)
	}
}

func TestHostCheck(t *testing.T) {
	h, _ := newTestHandler(t, newFake(), HandlerOptions{})
	for host, want := range map[string]int{
		Host: 200, "": 200,
		"localhost": 403, "evil.example": 403, Host + ":80": 403, "127.0.0.1": 403,
	} {
		req := newRequest("GET", "/v1/health", "")
		req.Host = host
		rec := serve(h, req, &root)
		if rec.Code != want {
			t.Errorf("Host %q: %d, want %d", host, rec.Code, want)
		}
		if want == 403 {
			if e := envelopeOf(t, rec); e.Code != CodeBadHost {
				t.Errorf("Host %q: code %q", host, e.Code)
			}
		}
	}
}

func TestAuthorization(t *testing.T) {
	member := Caller{UID: 1000, GID: 1000, PID: 300, Groups: []int{1000, 0}} // group "root" is the API group here
	primary := Caller{UID: 1001, GID: 0, PID: 301}
	routes := []struct{ method, path, body string }{
		{"POST", "/v1/jobs", `{}`}, {"GET", "/v1/jobs", ""}, {"GET", "/v1/jobs/j-1", ""},
		{"POST", "/v1/plan", `{}`}, {"GET", "/v1/disks", ""}, {"GET", "/v1/health", ""}, {"GET", "/v1/metrics", ""},
	}
	for _, rt := range routes {
		t.Run(rt.method+rt.path, func(t *testing.T) {
			f := newFake()
			h, sink := newTestHandler(t, f, HandlerOptions{})
			for _, c := range []*Caller{&root, &member, &primary} {
				if rec := serve(h, newRequest(rt.method, rt.path, rt.body), c); rec.Code >= 400 {
					t.Errorf("caller uid %d: %d %s", c.UID, rec.Code, rec.Body)
				}
			}
			rec := serve(h, newRequest(rt.method, rt.path, rt.body), &outsider)
			e := envelopeOf(t, rec)
			wantMsg := "permission denied: run as root or add yourself to the root group (sudo usermod -aG root $USER, then log in again)"
			if rec.Code != 403 || e.Code != CodeForbidden || e.Message != wantMsg {
				t.Errorf("outsider: %d %+v", rec.Code, e)
			}
			if len(sink.Find("access denied", "uid=1000", "pid=200")) != 1 {
				t.Errorf("denial not logged:\n%s", sink)
			}
			rec = serve(h, newRequest(rt.method, rt.path, rt.body), nil)
			if e := envelopeOf(t, rec); rec.Code != 401 || e.Code != CodeUnauthenticated {
				t.Errorf("no peer credentials: %d %+v", rec.Code, e)
			}
			if n := len(f.calls()); rt.method == "POST" && rt.path == "/v1/jobs" && n != 3 {
				t.Errorf("backend saw %d creates, want 3 (root, member, primary group)", n)
			}
		})
	}
}

func TestMissingGroupMeansRootOnly(t *testing.T) {
	h, sink := newTestHandler(t, newFake(), HandlerOptions{Group: "ecssnap-no-such-group-x"})
	if len(sink.Find("WARN", "group not found", "ecssnap-no-such-group-x")) != 1 {
		t.Errorf("missing group not reported:\n%s", sink)
	}
	if rec := serve(h, newRequest("GET", "/v1/health", ""), &root); rec.Code != 200 {
		t.Errorf("root: %d", rec.Code)
	}
	c := Caller{UID: 5, GID: 5, Groups: []int{5}}
	if rec := serve(h, newRequest("GET", "/v1/health", ""), &c); rec.Code != 403 {
		t.Errorf("non-root without a group: %d", rec.Code)
	}
}

func TestBackendErrors(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{NewError(503, CodeUnavailable, "daemon is shutting down"), 503, CodeUnavailable},
		{fmt.Errorf("wrapped: %w", NewError(400, CodeBadRequest, "disk d-9 is not attached")), 400, CodeBadRequest},
		{fmt.Errorf("job j-7: %w", ErrNotFound), 404, CodeNotFound},
		{errors.New("cloud: throttled"), 500, CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			f := newFake()
			f.err = tt.err
			h, _ := newTestHandler(t, f, HandlerOptions{})
			for _, r := range []*http.Request{
				newRequest("POST", "/v1/jobs", `{}`), newRequest("GET", "/v1/jobs", ""),
				newRequest("GET", "/v1/jobs/j-1", ""), newRequest("GET", "/v1/jobs/j-1/events", ""),
				newRequest("POST", "/v1/plan", `{}`), newRequest("GET", "/v1/disks", ""), newRequest("GET", "/v1/metrics", ""),
			} {
				rec := serve(h, r, &root)
				e := envelopeOf(t, rec)
				if rec.Code != tt.status || e.Code != tt.code || !strings.Contains(tt.err.Error(), e.Message) {
					t.Errorf("%s %s: %d %+v, want %d %s", r.Method, r.URL.Path, rec.Code, e, tt.status, tt.code)
				}
			}
		})
	}
}

func TestPanicBecomesEnvelope(t *testing.T) {
	f := newFake()
	f.panics = true
	h, sink := newTestHandler(t, f, HandlerOptions{})
	rec := serve(h, newRequest("POST", "/v1/jobs", `{}`), &root)
	if e := envelopeOf(t, rec); rec.Code != 500 || e.Code != CodeInternal {
		t.Fatalf("panic: %d %+v", rec.Code, e)
	}
	if len(sink.Find("ERROR", "panicked", "backend bug")) != 1 {
		t.Fatalf("panic not logged:\n%s", sink)
	}
}

func TestInvalidBackendJSON(t *testing.T) {
	f := newFake()
	f.raw = json.RawMessage(`{"disks":`)
	h, _ := newTestHandler(t, f, HandlerOptions{})
	if rec := serve(h, newRequest("GET", "/v1/disks", ""), &root); rec.Code != 500 {
		t.Fatalf("invalid backend JSON: %d %s", rec.Code, rec.Body)
	}
}

func TestAPIMetrics(t *testing.T) {
	h, _ := newTestHandler(t, newFake(), HandlerOptions{})
	serve(h, newRequest("GET", "/v1/jobs/j-1", ""), &root)
	serve(h, newRequest("GET", "/v1/jobs/j-9", ""), &root)
	serve(h, newRequest("GET", "/v1/jobs", ""), &outsider)
	serve(h, newRequest("GET", "/nope", ""), &root)
	rec := serve(h, newRequest("GET", "/v1/metrics", ""), &root)
	body := rec.Body.String()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	for _, want := range []string{
		`ecssnap_jobs_total{outcome="succeeded"} 3`, // the backend's own
		`ecssnap_api_requests_total{route="GET /v1/jobs/{id}",status="200"} 1`,
		`ecssnap_api_requests_total{route="GET /v1/jobs/{id}",status="404"} 1`,
		`ecssnap_api_requests_total{route="GET /v1/jobs",status="403"} 1`,
		`ecssnap_api_requests_total{route="unmatched",status="404"} 1`,
		`ecssnap_api_errors_total{code="forbidden"} 1`,
		`ecssnap_api_errors_total{code="not_found"} 2`,
		// The stepping clock moves 5ms per reading: start, then header.
		`ecssnap_api_response_seconds_sum{route="GET /v1/jobs/{id}"} 0.01`,
		`ecssnap_api_response_seconds_count{route="GET /v1/jobs/{id}"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s:\n%s", want, body)
		}
	}
}
