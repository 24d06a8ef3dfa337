// Package fleet simulates a fleet of ECS instances that all run ecssnap at
// once against one account: every agent is the real job engine (pkg/job)
// with its own real cloud client (alibaba-cloud-sdk-go and credentials-go
// through pkg/cloud), its own metadata service and its own disks, and all of
// them share one emulated account (pkg/ecsemu) with an account-level request
// rate limit. It then checks the emulator's state: every job succeeded,
// every disk has exactly one snapshot, and it measures how close the fleet
// came to the rate limit's lower bound on total time.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ctxsleep"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/imds"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/plan"
	"github.com/ecssnap/ecssnap/pkg/retention"
)

// Config is one simulation. Zero fields take the defaults of `make fleet`.
type Config struct {
	Agents int     // instances, each running one job; default 500
	RPS    float64 // the account's API request rate limit; default 20
	// Jitter spreads the agents' starts uniformly over this long; default
	// 1 s. Negative starts them all at once.
	Jitter    time.Duration
	DataDisks int // data disks per instance, besides the system disk
	// Wait makes each job follow its snapshots to completion (snapshot-now
	// --wait); without it a job ends once its snapshots are created, as
	// snapshot-now does when it is not run on a terminal.
	Wait bool
	// SnapshotTime is how long the emulator takes to complete a snapshot;
	// default 2 s.
	SnapshotTime time.Duration
	// Faults are injected besides the rate limit (Faults.RPS is ignored).
	Faults ecsemu.Faults
	// Retry is every agent's retry policy; zero is ecssnap's default.
	Retry cloud.RetryPolicy
	// Seed seeds the emulator and the start jitter; 0 picks one.
	Seed int64
	// Progress, when set, receives a one-line status every ProgressEvery.
	Progress      func(Status)
	ProgressEvery time.Duration
	// Logger receives the agents' and the emulator's warnings; nil discards.
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultAgents       = 500
	DefaultRPS          = 20
	DefaultJitter       = time.Second
	DefaultSnapshotTime = 2 * time.Second
)

func (c Config) withDefaults() Config {
	if c.Agents == 0 {
		c.Agents = DefaultAgents
	}
	if c.RPS == 0 {
		c.RPS = DefaultRPS
	}
	if c.Jitter == 0 {
		c.Jitter = DefaultJitter
	}
	c.Jitter = max(c.Jitter, 0)
	if c.SnapshotTime <= 0 {
		c.SnapshotTime = DefaultSnapshotTime
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Seed == 0 {
		c.Seed = mrand.Int64N(1<<62) + 1
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Agents < 1:
		return fmt.Errorf("the fleet needs at least 1 agent, not %d", c.Agents)
	case c.RPS <= 0:
		return fmt.Errorf("the rate limit must be positive, not %v", c.RPS)
	case c.DataDisks < 0 || c.DataDisks > maxDataDisks:
		return fmt.Errorf("data disks per instance must be 0..%d, not %d", maxDataDisks, c.DataDisks)
	}
	f := c.Faults
	f.RPS = c.RPS
	return f.Validate()
}

// maxDataDisks keeps every instance within one snapshot group (16 disks).
const maxDataDisks = 15

// Status is the fleet's progress at one instant.
type Status struct {
	Elapsed  time.Duration
	Started  int
	Finished int
	Failed   int
	Calls    int64 // API calls sent so far, throttled ones included
}

// attempts sums the API calls the agents have sent so far.
func attempts(agents []*agent) int64 {
	var n int64
	for _, a := range agents {
		if c := a.client.Load(); c != nil {
			n += c.CallCount()
		}
	}
	return n
}

// agentResult is what one agent's job came to.
type agentResult struct {
	instance string
	res      *job.Result
	err      error
	start    time.Time // when the job began, after the jitter
	end      time.Time
}

// Run simulates cfg's fleet and returns what happened. An error means the
// simulation itself could not run; failed jobs and duplicates are in the
// report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	sc := Scenario(cfg.Agents, cfg.DataDisks, cfg.SnapshotTime)
	sc.Faults = cfg.Faults
	sc.Faults.RPS = cfg.RPS
	emu, err := ecsemu.New(sc, ecsemu.Options{Seed: cfg.Seed, Logger: cfg.Logger.With("component", "ecsemu")})
	if err != nil {
		return nil, err
	}
	srv, err := ecsemu.Listen(emu, ecsemu.ServerConfig{})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	md, err := serveMetadata(emu, sc)
	if err != nil {
		return nil, err
	}
	defer md.close()

	rng := mrand.New(mrand.NewPCG(uint64(cfg.Seed), 0x666c656574)) // "fleet"
	results := make([]agentResult, cfg.Agents)
	agents := make([]*agent, cfg.Agents)
	for i := range agents {
		agents[i] = &agent{
			instance: instanceID(i), metadataURL: md.urls[i], apiURL: srv.APIURL,
			accessKeyID: ecsemu.DefaultAccessKeyID, accessKeySecret: ecsemu.DefaultAccessKeySecret,
			retry: cfg.Retry, wait: cfg.Wait, log: cfg.Logger.With("instance", instanceID(i)),
		}
	}
	var started, finished, failed atomic.Int64
	stopProgress := progress(cfg, agents, &started, &finished, &failed)
	begin := time.Now()
	var wg sync.WaitGroup
	for i, a := range agents {
		delay := time.Duration(0)
		if cfg.Jitter > 0 {
			delay = time.Duration(rng.Int64N(int64(cfg.Jitter)))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ctxsleep.Sleep(ctx, delay) != nil {
				results[i] = agentResult{instance: a.instance, err: ctx.Err()}
				failed.Add(1)
				return
			}
			started.Add(1)
			results[i] = a.run(ctx)
			if results[i].err != nil {
				failed.Add(1)
			}
			finished.Add(1)
		}()
	}
	wg.Wait()
	wall := time.Since(begin)
	stopProgress()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("the simulation was interrupted: %w", err)
	}
	rep := buildReport(cfg, results, emu.State(), emu.Calls(), wall)
	return rep, nil
}

// progress reports the fleet's status every cfg.ProgressEvery until the
// returned function is called.
func progress(cfg Config, agents []*agent, started, finished, failed *atomic.Int64) func() {
	if cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	begin := time.Now()
	go func() {
		defer close(stopped)
		t := time.NewTicker(cfg.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				cfg.Progress(Status{
					Elapsed: time.Since(begin), Started: int(started.Load()), Finished: int(finished.Load()),
					Failed: int(failed.Load()), Calls: attempts(agents),
				})
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// agent is one instance running ecssnap.
type agent struct {
	instance                     string
	metadataURL, apiURL          string
	accessKeyID, accessKeySecret string
	retry                        cloud.RetryPolicy
	wait                         bool
	log                          *slog.Logger
	client                       atomic.Pointer[cloud.Client] // once the job made it
}

// run takes the instance's snapshots as `snapshot-now --consistency crash`
// does when no daemon runs: the real engine, wired as agent/cli wires it,
// minus what an instance without local filesystems to freeze has no use
// for (local discovery, the freeze helper, hook scripts, the job store).
func (a *agent) run(ctx context.Context) agentResult {
	creds := cloud.NewStaticCredentials(a.accessKeyID, a.accessKeySecret)
	eng := &job.Engine{
		Metadata: imds.New(imds.Config{Endpoint: a.metadataURL, Logger: a.log}),
		NewCloud: func(region string) (job.Cloud, error) {
			c, err := cloud.New(cloud.Config{Region: region, Endpoint: a.apiURL, Credentials: creds, Retry: a.retry, Logger: a.log})
			if err != nil {
				return nil, err
			}
			a.client.Store(c)
			return c, nil
		},
		// The zero Local skips discovery: the plan sees only cloud disks,
		// which is all a crash-consistent snapshot needs.
		MakeRoom: func(ctx context.Context, c job.Cloud, instanceID string, disks []string) error {
			rc, ok := c.(retention.Cloud)
			if !ok {
				return errors.New("the cloud client cannot list snapshots for retention")
			}
			_, err := retention.MakeRoom(ctx, rc, instanceID, disks, 0, retention.DefaultConfig(), retention.Options{Logger: a.log})
			return err
		},
		Limits: plan.DefaultLimits,
		Logger: a.log,
	}
	start := time.Now()
	res, err := eng.Run(ctx, job.Request{
		Reason: "fleet simulation", Trigger: "fleet", Disks: plan.Selection{Kind: "all"},
		Consistency: job.LevelCrash, Require: job.LevelCrash, Wait: a.wait,
	})
	return agentResult{instance: a.instance, res: res, err: err, start: start, end: time.Now()}
}

// metadataServers are the instances' metadata services, one listener each:
// the real service tells instances apart by where a request comes from.
type metadataServers struct {
	urls    []string
	servers []*http.Server
	wg      sync.WaitGroup
}

func serveMetadata(emu *ecsemu.Emulator, sc *ecsemu.Scenario) (*metadataServers, error) {
	m := &metadataServers{}
	ids := []string{sc.Instance.ID}
	for _, in := range sc.Instances {
		ids = append(ids, in.ID)
	}
	for _, id := range ids {
		h, err := emu.InstanceMetadataHandler(id)
		if err != nil {
			m.close()
			return nil, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			m.close()
			return nil, fmt.Errorf("listen for the metadata service of %s: %w", id, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		m.servers = append(m.servers, srv)
		m.urls = append(m.urls, "http://"+ln.Addr().String())
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			_ = srv.Serve(ln) // returns http.ErrServerClosed on close
		}()
	}
	return m, nil
}

func (m *metadataServers) close() {
	for _, s := range m.servers {
		s.Close()
	}
	m.wg.Wait()
}
