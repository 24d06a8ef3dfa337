// Package imds is a client for the ECS instance metadata service: the
// instance's own identity, its disks' serial-to-ID map, in token ("security
// hardening") mode by default, with short timeouts so that a machine that is
// not an ECS instance is told so in seconds rather than minutes.
package imds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ctxsleep"
)

// DefaultEndpoint is the metadata service's address on every ECS instance.
const DefaultEndpoint = "http://100.100.100.200"

// Header names and limits of token mode (REFERENCE section 1).
const (
	tokenPath      = "/latest/api/token"
	metaDataPrefix = "/latest/meta-data/"
	tokenHeader    = "X-aliyun-ecs-metadata-token"
	tokenTTLHeader = "X-aliyun-ecs-metadata-token-ttl-seconds"
	maxTokenTTL    = 21600 * time.Second
	// Bodies we read are a few hundred bytes; cap them anyway.
	maxBody = 1 << 20
)

// Config says where the metadata service is and how patient to be with it.
// The zero value of every field selects the production default.
type Config struct {
	Endpoint       string        // base URL; DefaultEndpoint when empty
	AllowTokenless bool          // fall back to plain GETs when token mode is unavailable
	TokenTTL       time.Duration // lifetime requested for each token; 6 h when zero
	ConnectTimeout time.Duration // per connection attempt; 1 s when zero
	RequestTimeout time.Duration // per request; 2 s when zero
	Budget         time.Duration // all attempts of one lookup; 2.5 s when zero
	Attempts       int           // tries per lookup; 3 when zero
	Transport      http.RoundTripper
	Now            func() time.Time
	Logger         *slog.Logger
	// IdentityFile, when set, keeps the identity for the later processes
	// of this boot: Identity reads it before asking the service, and
	// writes it after a read from the service. The file names the boot
	// and the endpoint it came from; any other boot's or endpoint's is
	// ignored (see kept).
	IdentityFile string
	// BootID returns the ID of this boot of the kernel; when nil, the
	// kernel's boot_id is read.
	BootID func() (string, error)
}

// Client reads the metadata service. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base string
	http *http.Client

	mu          sync.Mutex
	token       string
	tokenExpiry time.Time
	tokenless   bool // token mode refused and tokenless fallback allowed

	identityMu   sync.Mutex
	identity     *Identity
	identityCall *identityCall          // a read in flight
	bootID       func() (string, error) // cfg.BootID, read once
}

// New returns a client for cfg.
func New(cfg Config) *Client {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	if cfg.TokenTTL <= 0 || cfg.TokenTTL > maxTokenTTL {
		cfg.TokenTTL = maxTokenTTL
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 2 * time.Second
	}
	if cfg.Budget <= 0 {
		cfg.Budget = 2500 * time.Millisecond
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BootID == nil {
		cfg.BootID = readBootID
	}
	tr := cfg.Transport
	if tr == nil {
		// Never through HTTP_PROXY: the metadata service is link-local to the
		// instance and a proxy would answer for the wrong machine, or not at all.
		tr = &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: cfg.ConnectTimeout}).DialContext,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     30 * time.Second,
		}
	}
	return &Client{
		cfg:    cfg,
		base:   strings.TrimRight(cfg.Endpoint, "/"),
		http:   &http.Client{Transport: tr, Timeout: cfg.RequestTimeout},
		bootID: sync.OnceValues(cfg.BootID),
	}
}

// Endpoint returns the base URL the client talks to.
func (c *Client) Endpoint() string { return c.base }

// UnreachableError means no metadata service answered at the endpoint:
// nothing answered, or something else did (an answer the service never
// gives: an HTML page, an empty token). The usual reason is that this
// machine is not an ECS instance.
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	var bad *badAnswer
	if errors.As(e.Err, &bad) {
		return fmt.Sprintf("no ECS metadata service at %s: it answered %v: is this an ECS instance?", e.URL, bad)
	}
	return fmt.Sprintf("metadata service at %s is unreachable: is this an ECS instance?", e.URL)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// ErrNotFound is returned for a metadata item the service does not have.
var ErrNotFound = errors.New("metadata item not found")

// StatusError is an unexpected HTTP status from the metadata service.
type StatusError struct {
	Path   string
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("metadata service answered %d for %s", e.Status, e.Path)
	if e.Status == http.StatusForbidden {
		msg += ": token mode is required or the metadata endpoint is disabled for this instance"
	}
	return msg
}

// Get returns the text leaf at path below /latest/meta-data/ (for example
// "instance-id" or "disks/"), trimmed of surrounding whitespace.
func (c *Client) Get(ctx context.Context, path string) (string, error) {
	body, err := c.get(ctx, metaDataPrefix+strings.TrimLeft(path, "/"))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(body), nil
}

// List returns the entries of the directory at path below /latest/meta-data/.
// Sub-directories keep their trailing "/".
func (c *Client) List(ctx context.Context, path string) ([]string, error) {
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	body, err := c.get(ctx, metaDataPrefix+strings.TrimLeft(path, "/"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out, nil
}

// get performs one logical GET: bounded attempts within the budget, a token
// fetched or renewed as needed, and one token re-fetch on 401.
func (c *Client) get(parent context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(parent, c.cfg.Budget)
	defer cancel()

	var lastErr error
	refetched := false
	for attempt := 0; attempt < c.cfg.Attempts; attempt++ {
		if attempt > 0 && ctxsleep.Sleep(ctx, backoff(attempt)) != nil {
			break
		}
		token, err := c.currentToken(ctx)
		if err != nil {
			lastErr = err
			var bad *badAnswer
			switch {
			case isTransport(err):
				continue
			case errors.As(err, &bad):
				return "", &UnreachableError{URL: c.base, Err: err}
			}
			return "", err
		}
		status, body, err := c.do(ctx, http.MethodGet, path, token)
		switch {
		case err != nil:
			lastErr = err
			continue
		case status == http.StatusOK:
			return body, nil
		case status == http.StatusNotFound:
			return "", fmt.Errorf("%s: %w", path, ErrNotFound)
		case status == http.StatusUnauthorized && !refetched:
			// The token expired or the service restarted: fetch a new one once.
			refetched = true
			c.dropToken()
			attempt--
			continue
		case status >= 500 || status == http.StatusTooManyRequests:
			lastErr = &StatusError{Path: path, Status: status, Body: body}
			continue
		default:
			return "", &StatusError{Path: path, Status: status, Body: body}
		}
	}
	if parent.Err() != nil {
		// The caller gave up (a signal, a shutdown): that is no sign of
		// the service being absent, and must not be reported as one.
		return "", fmt.Errorf("read %s from the metadata service: %w", path, context.Cause(parent))
	}
	if lastErr == nil {
		lastErr = ctx.Err()
	}
	if isTransport(lastErr) || errors.Is(lastErr, context.DeadlineExceeded) {
		return "", &UnreachableError{URL: c.base, Err: lastErr}
	}
	return "", lastErr
}

// currentToken returns a valid token, fetching one when none is cached or the
// cached one is in the last tenth of its life. It returns "" in tokenless mode.
func (c *Client) currentToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokenless {
		return "", nil
	}
	now := c.cfg.Now()
	if c.token != "" && now.Before(c.tokenExpiry.Add(-c.cfg.TokenTTL/10)) {
		return c.token, nil
	}
	ttl := strconv.Itoa(int(c.cfg.TokenTTL / time.Second))
	status, body, err := c.doHeader(ctx, http.MethodPut, tokenPath, tokenTTLHeader, ttl)
	if err != nil {
		return "", err
	}
	switch {
	case status == http.StatusOK:
		token := strings.TrimSpace(body)
		if err := checkToken(token); err != nil {
			return "", err
		}
		c.token = token
		c.tokenExpiry = now.Add(c.cfg.TokenTTL)
		return c.token, nil
	case c.cfg.AllowTokenless && (status == http.StatusForbidden || status == http.StatusNotFound || status == http.StatusMethodNotAllowed):
		c.cfg.Logger.Warn("metadata token mode unavailable; using tokenless requests as configured", "status", status)
		c.tokenless = true
		return "", nil
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		// The ECS service knows the token path (a disabled endpoint says
		// 403): a web server that does not is something else.
		return "", &badAnswer{Item: "the token request (PUT " + tokenPath + ")", Status: fmt.Sprintf("%d %s", status, http.StatusText(status))}
	default:
		return "", &StatusError{Path: tokenPath, Status: status, Body: body}
	}
}

func (c *Client) dropToken() {
	c.mu.Lock()
	c.token = ""
	c.mu.Unlock()
}

func (c *Client) do(ctx context.Context, method, path, token string) (int, string, error) {
	if token == "" {
		return c.doHeader(ctx, method, path, "", "")
	}
	return c.doHeader(ctx, method, path, tokenHeader, token)
}

func (c *Client) doHeader(ctx context.Context, method, path, key, value string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return 0, "", fmt.Errorf("metadata request %s: %w", path, err)
	}
	if key != "" {
		req.Header.Set(key, value)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", &transportError{err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, "", &transportError{err}
	}
	return resp.StatusCode, string(body), nil
}

// transportError marks failures where no HTTP answer arrived.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func isTransport(err error) bool {
	var te *transportError
	return errors.As(err, &te)
}

func backoff(attempt int) time.Duration {
	return time.Duration(100<<(attempt-1)) * time.Millisecond
}
