package localapi

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// RateLimit bounds how often one uid other than root may send requests
// that cost the daemon work (POST /v1/jobs, POST /v1/plan): a token bucket
// per uid, Burst deep, refilled at Rate per second.
type RateLimit struct {
	Rate  float64 // requests per second, sustained
	Burst int     // requests at once
}

// Defaults: a person or a script asks a few times a minute; hooks run as
// root and are not limited.
const (
	DefaultRate  = 1.0
	DefaultBurst = 10
	// maxBuckets bounds the limiter's memory; only group members reach
	// it, so it is only a guard.
	maxBuckets = 4096
)

type bucket struct {
	tokens float64
	at     time.Time
}

type limiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[int]*bucket
}

func newLimiter(l RateLimit, now func() time.Time) *limiter {
	if l.Rate <= 0 {
		l.Rate = DefaultRate
	}
	if l.Burst <= 0 {
		l.Burst = DefaultBurst
	}
	return &limiter{rate: l.Rate, burst: float64(l.Burst), now: now, buckets: map[int]*bucket{}}
}

// allow takes a token for uid, or returns how long until one is there.
func (l *limiter) allow(uid int) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[uid]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[uid] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// sweep forgets buckets that have refilled completely: they are the same
// as no bucket.
func (l *limiter) sweep(now time.Time) {
	for uid, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, uid)
		}
	}
}

// limited wraps a costly handler: a caller other than root over its rate
// gets 429 with Retry-After and a message that says what to do.
func (h *handler) limited(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := CallerFromContext(r.Context())
		if ok && c.UID != 0 {
			if allowed, wait := h.limit.allow(c.UID); !allowed {
				secs := int(math.Ceil(wait.Seconds()))
				w.Header().Set("Retry-After", strconv.Itoa(secs))
				h.log.Warn("local API request refused: rate limit", "method", r.Method, "path", r.URL.Path,
					"uid", c.UID, "pid", c.PID, "cmdline", c.Cmdline)
				writeError(w, http.StatusTooManyRequests, CodeBusy, fmt.Sprintf(
					"too many requests from uid %d (at most %d at once, %g per second): try again in %d s", c.UID, int(h.limit.burst), h.limit.rate, secs))
				return
			}
		}
		next(w, r)
	}
}
