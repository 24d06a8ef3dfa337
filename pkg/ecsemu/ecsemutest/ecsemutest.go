// Package ecsemutest starts an ECS emulator (metadata service and ECS API)
// on loopback for one test and tears it down in t.Cleanup.
package ecsemutest

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/dataplane"
)

// Env is a running emulator and the identifiers a client needs.
type Env struct {
	Emu    *ecsemu.Emulator
	Server *ecsemu.Server

	APIURL   string // http(s)://127.0.0.1:port
	IMDSURL  string // http://127.0.0.1:port
	AdminURL string
	CAFile   string // PEM of the test CA with WithTLS, else ""
	// APIHost is host:port of the API, for the SDK's client.Domain.
	APIHost string

	AccessKeyID     string
	AccessKeySecret string
	RegionID        string
	InstanceID      string
}

// Option configures Start.
type Option func(*config)

type config struct {
	scenario *ecsemu.Scenario
	opts     ecsemu.Options
	faults   *ecsemu.Faults
	server   ecsemu.ServerConfig
	logger   bool
}

// WithScenario uses sc instead of ecsemu.DefaultScenario().
func WithScenario(sc *ecsemu.Scenario) Option { return func(c *config) { c.scenario = sc } }

// WithClock runs the emulator on clock (for example an *ecsemu.VirtualClock).
func WithClock(clock ecsemu.Clock) Option { return func(c *config) { c.opts.Clock = clock } }

// WithSigningClock sets the clock request Timestamps are checked against.
func WithSigningClock(clock ecsemu.Clock) Option {
	return func(c *config) { c.opts.SigningClock = clock }
}

// WithFaults starts with faults in force (overriding the scenario's).
func WithFaults(f ecsemu.Faults) Option { return func(c *config) { c.faults = &f } }

// WithTLS serves the API over HTTPS with a generated test CA.
func WithTLS() Option { return func(c *config) { c.server.TLS = true } }

// WithSeed seeds the emulator's random source (IDs and fault draws).
func WithSeed(seed int64) Option { return func(c *config) { c.opts.Seed = seed } }

// WithDataPlane gives the emulator's disks bytes (see package dataplane).
func WithDataPlane(p *dataplane.Plane) Option { return func(c *config) { c.opts.DataPlane = p } }

// WithServerConfig sets listen addresses (TLS and CADir too).
func WithServerConfig(cfg ecsemu.ServerConfig) Option {
	return func(c *config) {
		tlsOn := c.server.TLS
		c.server = cfg
		c.server.TLS = c.server.TLS || tlsOn
	}
}

// WithLogger sends the emulator's log to l instead of t.Log.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.opts.Logger = l; c.logger = true }
}

// Start runs an emulator for the test; everything stops in t.Cleanup.
func Start(t testing.TB, opts ...Option) *Env {
	t.Helper()
	var c config
	for _, o := range opts {
		o(&c)
	}
	sc := c.scenario
	if sc == nil {
		sc = ecsemu.DefaultScenario()
	}
	if c.faults != nil {
		sc = sc.Clone()
		sc.Faults = *c.faults
	}
	var live atomic.Bool
	live.Store(true)
	if !c.logger {
		c.opts.Logger = slog.New(&testHandler{t: t, live: &live})
	}
	emu, err := ecsemu.New(sc, c.opts)
	if err != nil {
		t.Fatalf("ecsemutest: new emulator: %v", err)
	}
	if c.server.TLS && c.server.CADir == "" {
		c.server.CADir = t.TempDir()
	}
	srv, err := ecsemu.Listen(emu, c.server)
	if err != nil {
		t.Fatalf("ecsemutest: listen: %v", err)
	}
	t.Cleanup(func() {
		live.Store(false)
		srv.Close()
	})
	u, err := url.Parse(srv.APIURL)
	if err != nil {
		t.Fatalf("ecsemutest: parse API URL: %v", err)
	}
	eff := emu.Scenario()
	env := &Env{
		Emu: emu, Server: srv,
		APIURL: srv.APIURL, IMDSURL: srv.IMDSURL, AdminURL: srv.AdminURL, CAFile: srv.CAFile, APIHost: u.Host,
		RegionID: eff.Region, InstanceID: eff.Instance.ID,
	}
	if len(eff.AccessKeys) > 0 {
		env.AccessKeyID, env.AccessKeySecret = eff.AccessKeys[0].ID, eff.AccessKeys[0].Secret
	}
	return env
}

// HTTPClient returns a client that trusts the test CA and never uses a
// proxy (nothing may leave loopback).
func (e *Env) HTTPClient() *http.Client {
	return &http.Client{Transport: e.transport(), Timeout: 30 * time.Second}
}

func (e *Env) transport() *http.Transport {
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: false}
	if pool := e.Server.CertPool(); pool != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return tr
}

// ECSClient returns the real alibaba-cloud-sdk-go ECS client configured
// for the emulator: the scenario's first access key, Domain = the API's
// host:port, HTTP or HTTPS (trusting the test CA), explicit timeouts, and
// no proxy even if HTTP_PROXY is set.
func (e *Env) ECSClient(t testing.TB) *ecs.Client {
	t.Helper()
	return e.ECSClientWith(t, credentials.NewAccessKeyCredential(e.AccessKeyID, e.AccessKeySecret))
}

// ECSClientWith is ECSClient with other credentials (an STS token, a
// credentials provider adapter, a wrong secret).
func (e *Env) ECSClientWith(t testing.TB, cred any) *ecs.Client {
	t.Helper()
	cfg := sdk.NewConfig()
	cfg.Scheme = "HTTP"
	if e.Server.CertPool() != nil {
		cfg.Scheme = "HTTPS"
	}
	cfg.HttpTransport = e.transport()
	client, err := ecs.NewClientWithOptions(e.RegionID, cfg, cred)
	if err != nil {
		t.Fatalf("ecsemutest: new ECS client: %v", err)
	}
	client.Domain = e.APIHost
	client.SetConnectTimeout(5 * time.Second)
	client.SetReadTimeout(30 * time.Second)
	// The SDK applies HTTP_PROXY from the environment unless its own
	// no-proxy list (regular expressions on host:port) matches.
	client.SetNoProxy("^" + regexp.QuoteMeta(e.APIHost) + "$")
	return client
}

// testHandler sends slog records to t.Log while the test runs.
type testHandler struct {
	t     testing.TB
	live  *atomic.Bool
	attrs []slog.Attr
}

func (h *testHandler) Enabled(context.Context, slog.Level) bool { return h.live.Load() }

func (h *testHandler) Handle(_ context.Context, r slog.Record) error {
	if !h.live.Load() {
		return nil
	}
	msg := r.Level.String() + " " + r.Message
	for _, a := range h.attrs {
		msg += " " + a.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		msg += " " + a.String()
		return true
	})
	h.t.Log("ecsemu: " + msg)
	return nil
}

func (h *testHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &testHandler{t: h.t, live: h.live, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h *testHandler) WithGroup(string) slog.Handler { return h }
