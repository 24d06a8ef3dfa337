// Package cloud calls the ECS API through alibaba-cloud-sdk-go with the
// policies an unattended agent needs: explicit endpoints and timeouts,
// credentials from credentials-go behind a lock, an explicit retry policy
// with the same ClientToken on every repeat of a create, errors classified
// into kinds with one-line hints, and batched reads so that following a job
// costs the same number of calls for 1 or 16 disks.
package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/pkg/ctxsleep"
)

// Config says how to reach the ECS API. Zero values select production
// defaults: HTTPS to the region's VPC endpoint, credentials-go default chain.
type Config struct {
	Region      string
	Endpoint    string // override: "https://host[:port]", "http://host:port" or "host[:port]"
	Credentials *Credentials
	// MetadataEndpoint is where the default credentials' RAM-role step
	// asks, when not at the production address (NewDefaultCredentials).
	MetadataEndpoint string
	ConnectTimeout   time.Duration // 3 s when zero
	ReadTimeout      time.Duration // 10 s when zero
	Retry            RetryPolicy
	// IdleConnTimeout is how long an idle connection is kept (90 s when
	// zero); the daemon keeps its warm connection longer.
	IdleConnTimeout time.Duration
	// Transport replaces the HTTP transport (tests); its proxy and TLS
	// settings are then the caller's.
	Transport http.RoundTripper
	// MaxAnswerBytes caps an answer's body; DefaultMaxAnswerBytes when zero.
	MaxAnswerBytes int64
	Logger         *slog.Logger
}

// Client is safe for concurrent use.
type Client struct {
	cfg    Config
	dialer *pinnedDialer
	scheme string
	host   string
	tr     http.RoundTripper
	creds  *Credentials
	log    *slog.Logger

	// The SDK client mutates its own http.Client on every request (timeouts,
	// proxy), so one SDK client must never serve two calls at once. Idle ones
	// wait here; they all share tr, so connections stay warm.
	mu   sync.Mutex
	idle []*sdkClient

	rngMu sync.Mutex
	rng   *rand.Rand

	stats Stats
}

// sdkClient is one SDK client and the context of the call it is serving.
type sdkClient struct {
	ecs *ecs.Client
	ctx *ctxTransport
}

// Stats counts what the client did, for the job record and benchmarks.
type Stats struct {
	Calls   atomic.Int64 // HTTP attempts, retries included
	Retries atomic.Int64

	mu       sync.Mutex
	errors   map[string]int64 // by API error code ("transport" without one)
	duration time.Duration    // summed over attempts
}

// ErrorCounts returns the failed attempts so far by error code.
func (c *Client) ErrorCounts() map[string]int64 {
	c.stats.mu.Lock()
	defer c.stats.mu.Unlock()
	out := make(map[string]int64, len(c.stats.errors))
	for k, v := range c.stats.errors {
		out[k] = v
	}
	return out
}

// CallTime returns the time spent in API attempts so far.
func (c *Client) CallTime() time.Duration {
	c.stats.mu.Lock()
	defer c.stats.mu.Unlock()
	return c.stats.duration
}

func (s *Stats) observe(d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.duration += d
	if err == nil {
		return
	}
	code := "transport"
	var ae *APIError
	if errors.As(err, &ae) && ae.Code != "" {
		code = ae.Code
	}
	if s.errors == nil {
		s.errors = map[string]int64{}
	}
	s.errors[code]++
}

// New validates cfg and returns a client. It makes no network calls.
func New(cfg Config) (*Client, error) {
	if cfg.Region == "" {
		return nil, fmt.Errorf("cloud: region is required")
	}
	scheme, host, err := resolveEndpoint(cfg.Endpoint, cfg.Region)
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 3 * time.Second
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	cfg.Retry = cfg.Retry.withDefaults()
	if cfg.MaxAnswerBytes <= 0 {
		cfg.MaxAnswerBytes = DefaultMaxAnswerBytes
	}
	if cfg.IdleConnTimeout <= 0 {
		cfg.IdleConnTimeout = 90 * time.Second
	}
	if cfg.Credentials == nil {
		cfg.Credentials = NewDefaultCredentials(cfg.MetadataEndpoint)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tr := cfg.Transport
	dialer := newPinnedDialer(cfg.ConnectTimeout)
	if tr == nil {
		tr = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   cfg.ConnectTimeout,
			ResponseHeaderTimeout: cfg.ReadTimeout,
			MaxIdleConns:          32,
			MaxIdleConnsPerHost:   32,
			IdleConnTimeout:       cfg.IdleConnTimeout,
			ForceAttemptHTTP2:     true,
		}
	}
	return &Client{
		cfg:    cfg,
		dialer: dialer,
		scheme: scheme,
		host:   host,
		tr:     tr,
		creds:  cfg.Credentials,
		log:    cfg.Logger,
		rng:    rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x65637373)),
	}, nil
}

// Endpoint returns the URL the client sends calls to.
func (c *Client) Endpoint() string { return c.scheme + "://" + c.host }

// Region returns the region the client was built for.
func (c *Client) Region() string { return c.cfg.Region }

// Credentials returns the credentials adapter in use.
func (c *Client) Credentials() *Credentials { return c.creds }

// CallCount returns the number of HTTP attempts made so far.
func (c *Client) CallCount() int64 { return c.stats.Calls.Load() }

// RetryCount returns the number of attempts that were repeats.
func (c *Client) RetryCount() int64 { return c.stats.Retries.Load() }

// resolveEndpoint turns the override (or the production default) into a
// scheme and host[:port].
func resolveEndpoint(override, region string) (scheme, host string, err error) {
	if override == "" {
		return "https", "ecs-vpc." + region + ".aliyuncs.com", nil
	}
	if !strings.Contains(override, "://") {
		return "https", override, nil
	}
	u, err := url.Parse(override)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
		return "", "", fmt.Errorf("API endpoint %q is not a URL like https://host[:port]", override)
	}
	return u.Scheme, u.Host, nil
}

func (c *Client) checkout(ctx context.Context) (*sdkClient, error) {
	c.mu.Lock()
	if n := len(c.idle); n > 0 {
		sc := c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		sc.ctx.ctx = ctx
		return sc, nil
	}
	c.mu.Unlock()

	ct := &ctxTransport{base: c.tr, ctx: ctx, calls: &c.stats.Calls, maxAnswer: c.cfg.MaxAnswerBytes}
	sdkEndpointsOnce.Do(func() { ecs.GetEndpointMap() })
	conf := sdk.NewConfig()
	conf.Transport = ct
	conf.AutoRetry = false // retries are ours: see RetryPolicy
	conf.MaxRetryTime = 0
	conf.Scheme = strings.ToUpper(c.scheme)
	client, err := ecs.NewClientWithOptions(c.cfg.Region, conf, c.creds)
	if err != nil {
		return nil, fmt.Errorf("create ECS client: %w", err)
	}
	client.SetReadTimeout(c.cfg.ReadTimeout)
	client.SetConnectTimeout(c.cfg.ConnectTimeout)
	return &sdkClient{ecs: client, ctx: ct}, nil
}

// sdkEndpointsOnce fills the SDK's package-level endpoint table before any
// client is built: ecs.NewClientWithOptions fills it lazily, unsynchronised,
// so clients built at once in parallel goroutines (parallel creates, quota
// counts, a fleet in one process) race on it (found by make fleet under
// -race). Once filled, the SDK only reads it.
var sdkEndpointsOnce sync.Once

func (c *Client) checkin(sc *sdkClient) {
	sc.ctx.ctx = nil
	c.mu.Lock()
	c.idle = append(c.idle, sc)
	c.mu.Unlock()
}

// ctxTransport gives the SDK's context-less requests the caller's context, so
// cancelling a job cancels its calls, counts attempts, and hands the SDK
// only answers that can be ECS answers (see checkAnswer).
type ctxTransport struct {
	base      http.RoundTripper
	ctx       context.Context
	calls     *atomic.Int64
	maxAnswer int64
}

func (t *ctxTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.calls.Add(1)
	if t.ctx != nil {
		req = req.WithContext(t.ctx)
	}
	if !warmStarted.Load() {
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), warmAfterWrite()))
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	return checkAnswer(resp, t.maxAnswer)
}

// rpc is one SDK request and the call that sends it, with the types erased
// so that one retry loop serves every action.
type rpc struct {
	action   string
	resource string
	// request builds a fresh request; attempt fills in the endpoint.
	request func() requests.AcsRequest
	send    func(*ecs.Client, requests.AcsRequest) error
}

// invoke runs one ECS action under the retry policy and returns its answer.
// build makes the request anew for every attempt; send is the SDK's method
// for the action, e.g. (*ecs.Client).DescribeDisks.
func invoke[Req requests.AcsRequest, Resp any](ctx context.Context, c *Client, action, resource string,
	build func() Req, send func(*ecs.Client, Req) (Resp, error)) (Resp, error) {
	var resp Resp
	err := c.call(ctx, rpc{
		action: action, resource: resource,
		request: func() requests.AcsRequest { return build() },
		send: func(cl *ecs.Client, req requests.AcsRequest) (err error) {
			resp, err = send(cl, req.(Req))
			return err
		},
	})
	return resp, err
}

// call runs r under the retry policy. Every attempt builds a new request (a
// new nonce and timestamp) with the same parameters, ClientToken included.
// The budget that applies is that of the last failure's kind.
func (c *Client) call(ctx context.Context, r rpc) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, max(c.cfg.Retry.Budget, c.cfg.Retry.ThrottleBudget))
	defer cancel()
	expiredOnce := false
	malformed := 0
	var last error
	for attempt := 1; ; attempt++ {
		err := c.attempt(ctx, r)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil && last != nil {
			// The budget ran out during this attempt: the error worth
			// reporting is the one that caused the retries.
			return last
		}
		last = err
		kind := KindOf(err)
		if kind == KindCredentialsExpired && !expiredOnce {
			// The chain served a token the API already considers expired
			// (clock skew, or revoked): rebuild the chain and retry once.
			expiredOnce = true
			c.creds.Reset()
			c.stats.Retries.Add(1)
			continue
		}
		if kind == KindMalformed {
			// Retried, but a bounded number of times: an endpoint that
			// answers nonsense is not busy, and waiting out the whole
			// budget only hid what was wrong.
			malformed++
			var ae *APIError
			if errors.As(err, &ae) {
				ae.Attempts = malformed
			}
			if malformed >= c.cfg.Retry.MalformedAttempts {
				return err
			}
		} else if !kind.Temporary() {
			return err
		}
		c.rngMu.Lock()
		d := c.cfg.Retry.delay(attempt, c.rng)
		c.rngMu.Unlock()
		if time.Since(start)+d > c.cfg.Retry.budget(kind) {
			return err
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return err
		}
		c.log.Debug("retrying ECS call", "action", r.action, "resource", r.resource, "attempt", attempt, "error", err, "delay", d)
		if werr := ctxsleep.Sleep(ctx, d); werr != nil {
			return err
		}
		c.stats.Retries.Add(1)
	}
}

// attempt sends r once and converts whatever happens, including a panic in
// the SDK's response parser, into nil or an *APIError.
func (c *Client) attempt(ctx context.Context, r rpc) (err error) {
	if err := ctx.Err(); err != nil {
		return &APIError{Action: r.action, Resource: r.resource, Kind: KindTransport, Err: err}
	}
	sc, err := c.checkout(ctx)
	if err != nil {
		return err
	}
	defer c.checkin(sc)
	defer func() {
		if p := recover(); p != nil {
			err = &APIError{Action: r.action, Resource: r.resource, Kind: KindServer,
				Err: fmt.Errorf("SDK panicked on the response: %v", p)}
		}
	}()
	req := r.request()
	req.SetScheme(strings.ToUpper(c.scheme))
	req.SetDomain(c.host)
	start := time.Now()
	err = r.send(sc.ecs, req)
	if err != nil {
		err = c.wrap(r, err)
	}
	c.stats.observe(time.Since(start), err)
	c.log.Debug("ECS call", "action", r.action, "resource", r.resource, "ms", time.Since(start).Milliseconds(), "error", err)
	return err
}

// wrap classifies an SDK error.
func (c *Client) wrap(r rpc, err error) error {
	ae := &APIError{Action: r.action, Resource: r.resource, Err: err}
	if se, ok := err.(*sdkerrors.ServerError); ok {
		ae.Code, ae.Message, ae.Status, ae.RequestID = se.ErrorCode(), se.Message(), se.HttpStatus(), se.RequestId()
		ae.Kind = classify(ae.Code, ae.Status)
		return ae
	}
	if ce, ok := err.(*sdkerrors.ClientError); ok && strings.Contains(ce.ErrorCode(), "Credential") {
		ae.Code, ae.Kind = ce.ErrorCode(), KindAuth
		return ae
	}
	var bad *BadAnswerError
	if errors.As(err, &bad) {
		ae.Kind, ae.Status = KindMalformed, bad.Status
		ae.Err = fmt.Errorf("malformed answer from %s: %w", c.Endpoint(), bad)
		return ae
	}
	if ce, ok := err.(*sdkerrors.ClientError); ok && ce.ErrorCode() == sdkerrors.JsonUnmarshalErrorCode {
		// JSON with a RequestId, but not of the shape the action's
		// answer has.
		ae.Kind = KindMalformed
		ae.Err = fmt.Errorf("malformed answer from %s: %s", c.Endpoint(), oneLine(ce.OriginError().Error()))
		return ae
	}
	// Anything else means no usable answer arrived: connection refused or
	// reset, a timeout, a cut response. A create may have taken effect, which
	// is why it is repeated with the same ClientToken.
	ae.Kind = KindTransport
	if errors.Is(err, ErrNoCredentials) {
		ae.Kind = KindNoCredentials
	}
	return ae
}
