package cloud

import (
	"math/rand/v2"
	"time"
)

// RetryPolicy bounds how long and how often a failed call is repeated. Only
// temporary failures (throttling, 5xx, no answer, a request still in flight)
// are retried, with exponential backoff and full jitter, until the budget is
// spent. Creates are repeated with the same ClientToken, so a repeat can only
// return the first attempt's result, never a second snapshot.
type RetryPolicy struct {
	Base   time.Duration // first backoff ceiling; 200 ms when zero
	Max    time.Duration // backoff ceiling cap; 10 s when zero
	Budget time.Duration // total time for one call, all attempts; 2 min when zero
	// ThrottleBudget replaces Budget while the API answers with throttling;
	// ThrottleBudgetFactor x Budget when zero. Throttling means the account
	// is busy, not that anything is broken: when a fleet shares one
	// account's rate limit, each call waits about (callers / rate) for its
	// turn and the wait has a long tail, so the fleet simulation (make
	// fleet) lost 1 job in 10 at 500 instances and 20 calls/s with the 2
	// min budget, and none with 10 min.
	ThrottleBudget time.Duration
	// MalformedAttempts bounds the attempts of a call whose answers are
	// malformed (KindMalformed), within the budget;
	// DefaultMalformedAttempts when zero.
	MalformedAttempts int
}

// ThrottleBudgetFactor sets the default ThrottleBudget from Budget.
const ThrottleBudgetFactor = 5

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Base <= 0 {
		p.Base = 200 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 10 * time.Second
	}
	if p.Budget <= 0 {
		p.Budget = 2 * time.Minute
	}
	if p.MalformedAttempts <= 0 {
		p.MalformedAttempts = DefaultMalformedAttempts
	}
	if p.ThrottleBudget <= 0 {
		p.ThrottleBudget = ThrottleBudgetFactor * p.Budget
	}
	return p
}

// delay returns the wait before retry number n (1-based): a uniformly random
// duration in [0, min(Max, Base*2^(n-1))]. Full jitter spreads the retries of
// many agents that were throttled together, which is what fleets need.
func (p RetryPolicy) delay(n int, r *rand.Rand) time.Duration {
	ceiling := p.Base
	for i := 1; i < n && ceiling < p.Max; i++ {
		ceiling *= 2
	}
	if ceiling > p.Max {
		ceiling = p.Max
	}
	return time.Duration(r.Int64N(int64(ceiling) + 1))
}

// budget is how long a call may go on retrying when its last failure was
// of kind k.
func (p RetryPolicy) budget(k Kind) time.Duration {
	if k == KindThrottled {
		return p.ThrottleBudget
	}
	return p.Budget
}
