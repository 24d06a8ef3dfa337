package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/ecssnap/ecssnap/pkg/freeze"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/store"
)

// Options configure Serve.
type Options struct {
	Socket      string
	Group       string // the socket's group; "" means ecssnap
	StateDir    string
	JournalPath string // the freeze journal to recover at start
	// Engine builds a job engine from the current configuration.
	Engine func(emit func(job.Event)) *job.Engine
	// Reload re-reads the configuration (SIGHUP) and returns the new
	// engine factory.
	Reload func() (func(emit func(job.Event)) *job.Engine, error)
	Window time.Duration // coalescing window for hook requests
	// Prune applies retention; the daemon runs it after successful jobs,
	// once the queue has been idle for RetentionIdle (2 s when zero), and
	// once a day. It returns how many items it deleted. Its ctx ends when
	// a job is queued meanwhile: the job goes first, retention after it.
	Prune         func(ctx context.Context) (int, error)
	RetentionIdle time.Duration
	// MetricsTextfile, when set, receives the metrics after every job, for
	// node_exporter's textfile collector.
	MetricsTextfile string
	// Limits bound the job queue; RateLimit bounds each uid's costly
	// requests (root's are not limited). Zero fields take the defaults.
	Limits    QueueLimits
	RateLimit localapi.RateLimit
	// JobRecords bounds the finished job records kept in the state
	// directory; applied at start, after every job and once a day. The
	// zero value means store.DefaultRetention.
	JobRecords store.Retention
	// View, when set, keeps the inventory warm between jobs (view.go), so
	// that a job makes no call before its creates.
	View    *ViewOptions
	Version string
	Logger  *slog.Logger
	Getenv  func(string) string
	Now     func() time.Time
}

// errStopping is why a job's wait ends when the daemon stops: the next
// start settles the job.
var errStopping = errors.New("the daemon is stopping")

// Serve runs the daemon until ctx ends: it thaws what a crashed
// predecessor left frozen, reconciles unfinished jobs, serves the local API
// and runs jobs one at a time. On shutdown it stops taking requests, lets
// the running job finish its freeze window (the engine thaws before it
// returns), leaves interrupted jobs recorded for the next start, and exits.
func Serve(ctx context.Context, opts Options) error {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	sd := newNotifier(opts.Getenv)

	m := newMetrics()
	if rep, err := freeze.Recover(ctx, opts.JournalPath, log); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		log.Warn("freeze journal recovery failed", "journal", opts.JournalPath, "error", err)
	} else if rep.Action == freeze.RecoverThawed {
		m.addGuardThaws(len(rep.Mounts))
		log.Warn("thawed filesystems a dead ecssnap left frozen", "job", rep.JobID, "mounts", len(rep.Mounts))
	}

	st, err := openStore(ctx, opts, log)
	if err != nil {
		return fmt.Errorf("open the job store: %w", err)
	}
	defer st.Close()

	jobs := NewJobs(JobsOptions{Engine: opts.Engine, Store: st, Logger: log, Now: opts.Now, Window: opts.Window, Limits: opts.Limits,
		ResumeInterrupted: true})
	jobs.metrics = m
	jobs.warm = opts.View != nil
	records := opts.JobRecords
	if records == (store.Retention{}) {
		records = store.DefaultRetention
	}
	retainRecords := func() {
		if _, err := st.Retain(records); err != nil {
			log.Warn("could not remove old job records", "error", err)
		}
	}
	retainRecords()
	prune := func(ctx context.Context) {
		if opts.Prune == nil {
			return
		}
		n, err := opts.Prune(ctx)
		m.addPruned(n)
		if err != nil && errors.Is(context.Cause(ctx), errJobArrived) {
			log.Debug("retention gave way to a job; it runs again once the queue is idle", "deleted", n)
		} else if err != nil {
			log.Warn("retention could not prune everything", "error", err)
		} else if n > 0 {
			log.Info("retention pruned managed snapshots", "deleted", n)
		}
	}
	jobs.afterSuccess, jobs.afterSuccessIdle = prune, opts.RetentionIdle
	jobs.afterEach = func() {
		retainRecords()
		if opts.MetricsTextfile == "" {
			return
		}
		if err := writeTextfile(opts.MetricsTextfile, m, jobs); err != nil {
			log.Warn("could not write the metrics textfile", "path", opts.MetricsTextfile, "error", err)
		}
	}
	if err := jobs.Reconcile(); err != nil {
		return err
	}
	if err := jobs.RememberFinished(); err != nil {
		return err
	}
	ln, err := localapi.Listen(opts.Socket, localapi.ListenOptions{Group: opts.Group, Logger: log})
	if err != nil {
		return err
	}
	b := &backend{jobs: jobs, store: st, version: opts.Version, started: opts.Now(), metrics: m}
	srv := localapi.NewServer(localapi.NewHandler(b, localapi.HandlerOptions{Logger: log, Group: opts.Group, RateLimit: opts.RateLimit}),
		localapi.ServerOptions{Logger: log})

	// SIGHUP is caught from here on, before anyone can see the daemon up.
	reload := reloadSignal()
	defer stopReloadSignal(reload)

	jobCtx, stopJobCause := context.WithCancelCause(context.WithoutCancel(ctx))
	stopJobs := func() { stopJobCause(errStopping) }
	defer stopJobs()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		jobs.Run(jobCtx)
	}()
	if opts.View != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jobs.keepView(jobCtx, *opts.View)
		}()
	}
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("local API server stopped", "error", err)
		}
	}()
	if err := sd.notify("READY=1"); err != nil {
		log.Warn("sd_notify READY failed", "error", err)
	}
	log.Info("ecssnap daemon ready", "socket", opts.Socket, "version", opts.Version)

	waitForStop(ctx, sd, opts, jobs, reload, func() { jobs.oweRetention(); retainRecords() }, log)

	_ = sd.notify("STOPPING=1")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	stopJobs()
	wg.Wait()
	log.Info("ecssnap daemon stopped")
	return nil
}

// waitForStop keeps the watchdog fed and handles reloads until ctx ends.
func waitForStop(ctx context.Context, sd *notifier, opts Options, jobs *Jobs, reload <-chan os.Signal, daily func(), log *slog.Logger) {
	// Retention once a day as well as after each job, for instances that
	// rarely snapshot.
	day := time.NewTicker(24 * time.Hour)
	defer day.Stop()
	var tick <-chan time.Time
	if iv := watchdogInterval(opts.Getenv); iv > 0 {
		t := time.NewTicker(iv)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			_ = sd.notify("WATCHDOG=1")
		case <-day.C:
			daily()
		case <-reload:
			if opts.Reload == nil {
				continue
			}
			_ = sd.notify("RELOADING=1")
			eng, err := opts.Reload()
			if err != nil {
				log.Error("configuration reload failed; keeping the old one", "error", err)
			} else {
				jobs.setEngine(eng)
				log.Info("configuration reloaded")
			}
			_ = sd.notify("READY=1")
		}
	}
}

// storeWait bounds how long a starting daemon waits for the job store: a
// command that ran a job while no daemon did holds it until the job is
// recorded, and the process it starts to finish the job's bookkeeping a
// round trip or two longer. systemd's start timeout is longer.
const storeWait = time.Minute

// openStore opens the job store, waiting while an ecssnap command holds it.
func openStore(ctx context.Context, opts Options, log *slog.Logger) (*store.Store, error) {
	return store.OpenWait(ctx, opts.StateDir, store.Options{Logger: log, Now: opts.Now}, storeWait, func(err error) {
		log.Info("waiting for an ecssnap command to release the job store", "error", err)
	})
}
