package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ecssnap/ecssnap/pkg/job"
)

// DefaultDialTimeout is short because a local daemon accepts at once, and
// a CLI that finds none falls back to running the engine itself: the user
// should not wait for that decision.
const DefaultDialTimeout = 200 * time.Millisecond

// Limits on what the client reads from an answer.
const (
	maxErrorBody  = 64 << 10
	maxAnswerBody = 64 << 20
)

// Client talks to the daemon's local API. Use NewClient; a Client must not
// be copied after first use.
type Client struct {
	Socket string
	// Transport carries the requests; nil means HTTP/1.1 over Socket.
	// Tests inject one to reach a handler without a socket.
	Transport   http.RoundTripper
	DialTimeout time.Duration // 0 means DefaultDialTimeout

	once sync.Once
	hc   *http.Client
}

// NewClient returns a client of the daemon listening on socket.
func NewClient(socket string) *Client { return &Client{Socket: socket} }

func (c *Client) httpClient() *http.Client {
	c.once.Do(func() {
		rt := c.Transport
		if rt == nil {
			timeout := c.DialTimeout
			if timeout <= 0 {
				timeout = DefaultDialTimeout
			}
			dialer := &net.Dialer{Timeout: timeout}
			rt = &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return dialer.DialContext(ctx, "unix", c.Socket)
				},
				MaxIdleConns:       2,
				IdleConnTimeout:    30 * time.Second,
				DisableCompression: true,
			}
		}
		// No overall timeout: job creation may wait for a job and event
		// streams last as long as one; callers bound them with ctx.
		c.hc = &http.Client{
			Transport:     rt,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	})
	return c.hc
}

// CloseIdleConnections closes kept-alive connections to the daemon.
func (c *Client) CloseIdleConnections() { c.httpClient().CloseIdleConnections() }

// CreateJob asks for a job. The answer comes when req.Wait is reached.
func (c *Client) CreateJob(ctx context.Context, req CreateJobRequest) (*JobView, error) {
	var v JobView
	if err := c.do(ctx, http.MethodPost, "/v1/jobs", req, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// ListJobs returns jobs newest first; limit 0 means the daemon's default.
func (c *Client) ListJobs(ctx context.Context, limit int) ([]*JobView, error) {
	p := "/v1/jobs"
	if limit > 0 {
		p += "?limit=" + strconv.Itoa(limit)
	}
	var l jobList
	if err := c.do(ctx, http.MethodGet, p, nil, &l); err != nil {
		return nil, err
	}
	return l.Jobs, nil
}

// GetJob returns one job; errors.Is(err, ErrNotFound) when there is none.
func (c *Client) GetJob(ctx context.Context, id string) (*JobView, error) {
	var v JobView
	if err := c.do(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(id), nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Events calls fn for each event of the job as it happens and returns nil
// when the job has ended. A stream cut short is an error.
func (c *Client) Events(ctx context.Context, id string, fn func(job.Event)) error {
	resp, err := c.send(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(id)+"/events", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var ev job.Event
		switch err := dec.Decode(&ev); {
		case err == io.EOF:
			// The stream ends with the job, as a chunked body whose end
			// arrived; a daemon that died mid-stream cuts the chunking,
			// which reads as io.ErrUnexpectedEOF.
			return nil
		case err != nil && ctx.Err() == nil && connectionLost(err):
			return &GoneError{Socket: c.Socket, Err: err}
		case err != nil:
			return fmt.Errorf("events of job %s: %w", id, err)
		}
		fn(ev)
	}
}

// Plan returns the plan the daemon would run for req, as JSON.
func (c *Client) Plan(ctx context.Context, req PlanRequest) (json.RawMessage, error) {
	var raw json.RawMessage
	err := c.do(ctx, http.MethodPost, "/v1/plan", req, &raw)
	return raw, err
}

// Disks returns the instance's disks as the daemon sees them, as JSON.
func (c *Client) Disks(ctx context.Context) (json.RawMessage, error) {
	var raw json.RawMessage
	err := c.do(ctx, http.MethodGet, "/v1/disks", nil, &raw)
	return raw, err
}

// Health returns the daemon's health.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var h Health
	if err := c.do(ctx, http.MethodGet, "/v1/health", nil, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// Metrics copies the daemon's Prometheus metrics to w.
func (c *Client) Metrics(ctx context.Context, w io.Writer) error {
	resp, err := c.send(ctx, http.MethodGet, "/v1/metrics", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, io.LimitReader(resp.Body, maxAnswerBody)); err != nil {
		return fmt.Errorf("read metrics: %w", err)
	}
	return nil
}

// do sends one request and decodes a 2xx answer into out.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswerBody)).Decode(out); err != nil {
		if ctx.Err() == nil && connectionLost(err) {
			return &GoneError{Socket: c.Socket, Err: err}
		}
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// send returns a 2xx response, whose body the caller closes, or an error:
// *APIError for any other status, ErrDaemonNotRunning or ErrAccessDenied
// for the dial failures they stand for.
func (c *Client) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+Host+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, c.transportError(err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, readAPIError(resp)
	}
	return resp, nil
}

// transportError names the dial failures the CLI acts on. Only the dial
// produces these errnos: after connecting, failures are resets and EOFs.
func (c *Client) transportError(err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("%w (no socket at %s)", ErrDaemonNotRunning, c.Socket)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w (nobody listening on %s)", ErrDaemonNotRunning, c.Socket)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		// The kernel refused the connect: the socket's mode and group keep
		// the caller out, which is the same answer a 403 gives.
		return fmt.Errorf("connect to %s: %w", c.Socket, ErrAccessDenied)
	case connectionLost(err):
		return &GoneError{Socket: c.Socket, Err: err}
	}
	return fmt.Errorf("ecssnap daemon at %s: %w", c.Socket, err)
}

// connectionLost reports whether err is a connection the daemon closed
// under a request: it exited (or was killed) while serving it.
func connectionLost(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// GoneError is a daemon that went away in the middle of a request: the
// connection closed before the whole answer came. What it did with the
// request is unknown to the client; the job store knows (the daemon records
// a job before it answers, and the next daemon finishes it).
type GoneError struct {
	Socket string
	Err    error
}

func (e *GoneError) Error() string {
	return fmt.Sprintf("the ecssnap daemon at %s went away during the request (%v)", e.Socket, e.Err)
}

func (e *GoneError) Unwrap() error { return e.Err }

// readAPIError decodes the envelope, or keeps the start of whatever came
// instead (a proxy's page, a crash) as the message.
func readAPIError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var env envelope
	if err := json.Unmarshal(data, &env); err == nil && env.Error != nil && env.Error.Code != "" {
		return &APIError{Status: resp.StatusCode, Code: env.Error.Code, Message: env.Error.Message}
	}
	msg := strings.TrimSpace(string(data))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &APIError{Status: resp.StatusCode, Message: fmt.Sprintf("ecssnap daemon: %s: %s", resp.Status, msg)}
}
