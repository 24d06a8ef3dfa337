package localapi

import (
	"strings"
	"sync"
	"testing"
	"time"
)

type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A member's costly requests are bounded per uid: past the burst the API
// answers 429 with Retry-After and a message saying when to try again;
// root is not limited; the bucket refills with time.
func TestRateLimitPerUID(t *testing.T) {
	clock := &manualClock{t: time.Unix(1_700_000_000, 0)}
	h, log := newTestHandler(t, newFake(), HandlerOptions{Now: clock.now, RateLimit: RateLimit{Rate: 0.5, Burst: 3}})
	member := Caller{UID: 1000, GID: 0, PID: 300, Cmdline: "ecssnap now"}
	other := Caller{UID: 1001, GID: 0, PID: 301}
	post := func(c Caller, path string) int {
		return serve(h, newRequest("POST", path, `{"disks":{"kind":"all"}}`), &c).Code
	}
	for i := range 3 {
		if code := post(member, "/v1/jobs"); code != 201 {
			t.Fatalf("request %d within the burst: %d", i, code)
		}
	}
	rec := serve(h, newRequest("POST", "/v1/plan", `{"disks":{"kind":"all"}}`), &member)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "2" {
		t.Fatalf("over the burst: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if e := envelopeOf(t, rec); e.Code != CodeBusy || !strings.Contains(e.Message, "too many requests from uid 1000") || !strings.Contains(e.Message, "try again in 2 s") {
		t.Errorf("429 envelope %+v", e)
	}
	if len(log.Find("rate limit", "uid=1000", "pid=300")) != 1 {
		t.Errorf("refusal not logged:\n%s", log)
	}
	if code := post(other, "/v1/jobs"); code != 201 {
		t.Errorf("another uid: %d", code)
	}
	for range 10 {
		if code := post(root, "/v1/jobs"); code != 201 {
			t.Fatalf("root limited: %d", code)
		}
	}
	// Reads are not limited.
	if code := serve(h, newRequest("GET", "/v1/jobs", ""), &member).Code; code != 200 {
		t.Errorf("GET /v1/jobs over the rate: %d", code)
	}
	clock.advance(2 * time.Second)
	if code := post(member, "/v1/jobs"); code != 201 {
		t.Errorf("after refilling: %d", code)
	}
	if code := post(member, "/v1/jobs"); code != 429 {
		t.Errorf("one token only: %d", code)
	}
}
