// Package daemon is ecssnap's service: one job at a time, requests of one
// package-manager session merged into one job, every job recorded in the
// store so that a crash at any instant loses nothing and duplicates
// nothing, all behind the local API on a Unix socket.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/store"
)

// hookTriggers are the triggers of package-manager hooks, whose requests
// inside the coalescing window join the running or last job.
var hookTriggers = map[string]bool{"apt": true, "dnf": true, "yum": true, "zypper": true, "pacman": true}

// Job is one job the queue knows in memory: queued, running, or recently
// finished (for coalescing and event replay).
type Job struct {
	rec     *store.Record
	req     job.Request
	created chan struct{} // closed once every create call is answered (or the job ended)
	done    chan struct{} // closed when the job ends
	events  []job.Event
	subs    []chan job.Event
	failed  bool
	ended   bool  // finish took subs: no more events come (guarded by Jobs.mu)
	err     error // the engine's error, once done

	// followers count the callers waiting for the job's end (an event
	// stream, a request that waits for completion); followed is set once
	// one has, reconciled for a job a previous process started, whose
	// callers are gone. stopWait ends the engine's run early; see giveWay.
	followers  int
	followed   bool
	reconciled bool
	stopWait   context.CancelCauseFunc
	// callerWaits is set when the caller that asked for the job waits on
	// the line at least until its creates are answered (a hook, `now
	// --no-wait`, the CLI's own engine): the job is recorded from its
	// create calls on, not when it is accepted (see Submit). unrecorded
	// is set until its first record.
	callerWaits bool
	unrecorded  bool
	// prejoin is the guest's layout read from the job's acceptance on,
	// for a job that starts at once (prejoin.go); nil otherwise.
	prejoin *prejoin
}

// errGiveWay ends the wait of a job nobody follows when another is queued.
var errGiveWay = errors.New("nobody follows the job, and another request is queued")

// ID is the job's ID.
func (e *Job) ID() string { return e.rec.ID }

// Done is closed when the job ends.
func (e *Job) Done() <-chan struct{} { return e.done }

// Result returns the job's result and error once Done is closed.
func (e *Job) Result() (*job.Result, error) { return e.rec.Result, e.err }

// Jobs queues and runs jobs, one at a time.
type Jobs struct {
	engine func(emit func(job.Event)) *job.Engine
	store  *store.Store
	log    *slog.Logger
	now    func() time.Time
	window time.Duration
	limits QueueLimits

	metrics *metrics
	inv     *inventoryCache
	// resumeInterrupted keeps a job a shutdown interrupted unfinished, for
	// the next start to resume (the daemon). In process, a job the user
	// interrupted is over once its creates are settled: nobody asked for
	// it any more, and the next command must not run it again.
	resumeInterrupted bool
	callerInProcess   bool // JobsOptions.CallerInProcess
	warm              bool // jobs plan from the kept view (keepView runs)
	// afterSuccess runs in the worker once the queue has been idle for
	// afterSuccessIdle after a job that succeeded (retention.go); afterEach
	// runs after every job.
	afterSuccess     func(context.Context)
	afterSuccessIdle time.Duration
	afterEach        func()
	retention        retentionState // guarded by mu

	mu      sync.Mutex
	queue   []*Job
	running *Job
	recent  []*Job // finished, newest last; bounded
	wake    chan struct{}
}

// JobsOptions configure NewJobs.
type JobsOptions struct {
	// Engine builds an engine whose events go to emit.
	Engine func(emit func(job.Event)) *job.Engine
	Store  *store.Store
	Logger *slog.Logger
	Now    func() time.Time
	// Window is how long after a hook job started a hook request still
	// joins it; 10 minutes when zero.
	Window time.Duration
	// Limits bound the queue; zero fields take the defaults.
	Limits QueueLimits
	// ResumeInterrupted leaves jobs the context interrupted unfinished in
	// the store, for the next start to resume: the daemon's shutdown. When
	// false (the CLI's own engine), an interrupted job is recorded as done
	// unless its create calls were sent and not all answered, which only
	// a resume with the same ClientTokens can settle.
	ResumeInterrupted bool
	// CallerInProcess says the jobs run for callers in this process (the
	// CLI when no daemon runs): a job is recorded from its first record
	// on (its create calls, before any is sent, or its end), not when it
	// is accepted, so that a job that dies before its creates is not run
	// again by a later start of ecssnap, long after its caller (a package
	// manager's transaction, a script) went on without it.
	CallerInProcess bool
}

// maxRecent bounds the finished jobs kept in memory.
const maxRecent = 32

// NewJobs returns the queue; Run starts working it.
func NewJobs(opts JobsOptions) *Jobs {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Window <= 0 {
		opts.Window = 10 * time.Minute
	}
	return &Jobs{engine: opts.Engine, store: opts.Store, log: opts.Logger, now: opts.Now,
		window: opts.Window, limits: opts.Limits.withDefaults(), wake: make(chan struct{}, 1), metrics: newMetrics(),
		inv: &inventoryCache{now: opts.Now}, resumeInterrupted: opts.ResumeInterrupted, callerInProcess: opts.CallerInProcess}
}

// newEngine builds an engine from the current configuration, sharing the
// daemon's inventory.
func (j *Jobs) newEngine(emit func(job.Event)) *job.Engine {
	j.mu.Lock()
	build := j.engine
	j.mu.Unlock()
	eng := build(emit)
	eng.Inventories = j.inv
	if j.warm {
		eng.Warm = j.inv
	}
	return eng
}

// Submit queues req, or joins it to a job that gives it what it asks
// for, and returns the job's entry and whether it joined. The configured
// defaults apply to every request, the local API's as the command line's.
// A new job beyond the queue's bounds is refused with a *BusyError.
func (j *Jobs) Submit(req localapi.CreateJobRequest, caller localapi.Caller) (*Job, bool, error) {
	jr, err := req.JobRequest()
	if err == nil {
		err = jr.Validate()
	}
	if err != nil {
		return nil, false, &RequestError{err}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.engine != nil {
		j.engine(nil).Defaults.Apply(&jr)
	} else {
		job.Defaults{}.Apply(&jr)
	}
	now := j.now()
	who := store.Caller{UID: caller.UID, GID: caller.GID, PID: caller.PID, Cmdline: caller.Cmdline}
	if !req.Force {
		if e := j.joinable(req.Session, jr); e != nil {
			j.log.Info("request joined a job", "job", e.rec.ID, "session", req.Session, "trigger", jr.Trigger, "uid", caller.UID, "pid", caller.PID)
			e.rec.AddJoiner(store.Joiner{Caller: who, Time: now, Trigger: jr.Trigger, Session: req.Session})
			e.rec.Request.Packages = addPackageLines(e.rec.Request.Packages, req.Packages)
			// A job not recorded yet carries the joiner into its first
			// record, unless the joiner does not wait: it is told the ID.
			if !e.unrecorded || !callerWaits(req.Wait) {
				if err := j.record(e); err != nil {
					j.log.Warn("could not record the joining request", "job", e.rec.ID, "error", err)
				}
			}
			return e, true, nil
		}
	}
	if err := j.admit(caller.UID); err != nil {
		return nil, false, err
	}
	jr.JobID = job.NewID(now)
	rec := &store.Record{
		ID: jr.JobID, State: store.StateQueued, Request: store.RequestFromJob(jr), Session: req.Session,
		Caller: who, Created: now, Updated: now,
	}
	rec.Request.Mounts, rec.Request.Force = req.Mounts, req.Force
	pre := j.startPrejoin(j.engine)
	// A job whose caller waits for its creates is recorded from them on
	// (its create calls, before any is sent, or its end): if this process
	// dies before, the caller learns that nothing was done, and no later
	// start of ecssnap takes a snapshot for it long after it went on (a
	// package manager's transaction under way, a script past its step).
	// That also spares a write and two fsyncs before every hook's creates.
	// A caller that does not wait has been told the job's ID: it is
	// recorded now, and run by the next start if this one dies.
	waits := j.callerInProcess || callerWaits(req.Wait)
	if !waits {
		if err := j.save(rec); err != nil {
			return nil, false, fmt.Errorf("record the job: %w", err)
		}
	}
	e := &Job{rec: rec, req: jr, created: make(chan struct{}), done: make(chan struct{}), prejoin: pre,
		callerWaits: waits, unrecorded: waits}
	j.queue = append(j.queue, e)
	j.deferRetention()
	j.signal()
	// j.mu is held: the running job gives way once this returns.
	defer func(running *Job) { go j.giveWay(running) }(j.running)
	return e, false, nil
}

// joinable finds the job a request should join: one of the same
// package-manager session, or for a hook trigger a hook job that started
// within the window, and in either case one that covers the request (see
// covers). Callers hold j.mu.
func (j *Jobs) joinable(session string, want job.Request) *Job {
	candidates := append(slices.Clone(j.queue), j.recent...)
	if j.running != nil {
		candidates = append(candidates, j.running)
	}
	var best *Job
	for _, e := range candidates {
		sameSession := session != "" && e.rec.Session == session
		hookWindow := hookTriggers[want.Trigger] && hookTriggers[e.req.Trigger] && j.now().Sub(e.rec.Created) < j.window
		if !sameSession && !hookWindow {
			continue
		}
		if !covers(e, want) {
			continue
		}
		if best == nil || e.rec.Created.After(best.rec.Created) {
			best = e
		}
	}
	return best
}

// addPackageLines appends the entries of more that list does not hold yet,
// up to localapi.MaxPackages in all.
func addPackageLines(list, more []string) []string {
	seen := make(map[string]bool, len(list))
	for _, p := range list {
		seen[p] = true
	}
	for _, p := range more {
		if len(list) >= localapi.MaxPackages {
			break
		}
		if !seen[p] {
			seen[p] = true
			list = append(list, p)
		}
	}
	return list
}

// callerWaits reports whether a request's caller waits on the line for at
// least the job's creates.
func callerWaits(wait string) bool {
	return wait == localapi.WaitCreated || wait == localapi.WaitCompleted
}

// record saves e's record: from then on the job is on record. Callers
// hold j.mu.
func (j *Jobs) record(e *Job) error {
	e.unrecorded = false
	return j.save(e.rec)
}

// save records rec; without a store (a user who may not write it) jobs run
// unrecorded.
func (j *Jobs) save(rec *store.Record) error {
	if j.store == nil {
		return nil
	}
	return j.store.Save(rec)
}

// Drain runs queued jobs until the queue is empty: the CLI's in-process
// path when no daemon runs.
func (j *Jobs) Drain(ctx context.Context) {
	for e := j.next(); e != nil; e = j.next() {
		j.execute(ctx, e)
	}
}

func (j *Jobs) signal() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// Run works the queue until ctx ends, then finishes the running job's
// freeze window (the engine never exits frozen) and returns.
func (j *Jobs) Run(ctx context.Context) {
	for {
		e := j.next()
		if e == nil {
			idle, stop := j.retentionTimer()
			select {
			case <-ctx.Done():
				stop()
				return
			case <-j.wake:
				stop()
				continue
			case <-idle:
				j.runRetention(ctx)
				continue
			}
		}
		j.execute(ctx, e)
	}
}

func (j *Jobs) next() *Job {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.queue) == 0 {
		return nil
	}
	e := j.queue[0]
	j.queue = j.queue[1:]
	j.running = e
	return e
}

// follow counts a caller waiting for e's end until the returned func is
// called.
func (j *Jobs) follow(e *Job) (unfollow func()) {
	j.mu.Lock()
	e.followers++
	e.followed = true
	j.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			j.mu.Lock()
			e.followers--
			j.mu.Unlock()
			j.giveWay(e)
		})
	}
}

// giveWay ends e's wait for its snapshots when nobody follows it and
// another job is queued: a wait whose caller left (a `now --wait`
// interrupted) or that a restart took over (a reconciled job) must not
// hold up the requests behind it (a `now --no-wait` hung behind one). The
// snapshots go on in the cloud. With nothing queued the wait goes on, so
// that the record says how the snapshots ended.
func (j *Jobs) giveWay(e *Job) {
	if e == nil {
		return
	}
	j.mu.Lock()
	stop := (e.followed || e.reconciled) && e.followers == 0 && len(j.queue) > 0 &&
		isClosed(e.created) && !isClosed(e.done) && e.stopWait != nil
	j.mu.Unlock()
	if stop {
		j.log.Info("nobody follows the job and another is queued: it stops waiting for its snapshots", "job", e.rec.ID)
		e.stopWait(errGiveWay)
	}
}

// execute runs one job (or resumes one a crash interrupted) and records
// every step.
func (j *Jobs) execute(ctx context.Context, e *Job) {
	eng := j.newEngine(func(ev job.Event) { j.publish(e, ev) })
	if e.prejoin != nil && eng.Warm != nil {
		eng.Prejoined = e.prejoin.use
	}
	// A caller that does not wait for completion is answered as soon as
	// the snapshots are created (the point in time is fixed then); the
	// bookkeeping after it goes on here and is recorded.
	eng.Created = func(res *job.Result) {
		j.mu.Lock()
		e.rec.Result, e.rec.Updated = res, j.now()
		j.mu.Unlock()
		closeOnce(e.created)
	}
	eng.Record = func(res *job.Result, state string) error {
		// A copy: the engine goes on writing res while API readers and the
		// store read the record.
		snap := res.Clone()
		j.mu.Lock()
		e.rec.Result, e.rec.State, e.rec.Updated = snap, state, j.now()
		err := j.record(e)
		j.mu.Unlock()
		if state == job.RecordCreated {
			closeOnce(e.created)
			j.giveWay(e)
		}
		return err
	}
	// The run's own context: giveWay may end it once the
	// creates are answered; the daemon's ctx still decides whether the
	// job was interrupted by a shutdown.
	runCtx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	j.mu.Lock()
	e.stopWait = stopRun
	j.mu.Unlock()
	j.mu.Lock()
	// A job accepted by this process starts from its queued record, made
	// durable by Submit a moment ago (for a caller that waits, not
	// recorded at all so far): the run's first record (the create
	// calls with their ClientTokens, before any is sent; or the job's end)
	// carries the running state and the attempt. Saving it here as well
	// cost a write and two fsyncs before every create, and bought nothing:
	// after a crash a queued job and a running one without creates on
	// record are reconciled alike, run again from the start. A job from
	// an earlier process (a resume) records the attempt first, so that a
	// job that crashes the daemon shows how often it did.
	queued := e.rec.State == store.StateQueued && !e.reconciled
	e.rec.State, e.rec.Attempts, e.rec.Updated = store.StateRunning, e.rec.Attempts+1, j.now()
	var saveErr error
	if !queued {
		saveErr = j.record(e)
	}
	var recorded *job.Result
	if e.rec.Result != nil && len(e.rec.Result.Creates) > 0 {
		recorded = e.rec.Result.Clone() // the engine writes its own copy
	}
	j.mu.Unlock()
	if saveErr != nil {
		j.log.Error("could not record the job", "job", e.rec.ID, "error", saveErr)
	}

	var (
		res *job.Result
		err error
	)
	if recorded != nil {
		res, err = eng.Resume(runCtx, recorded, e.req)
	} else {
		res, err = eng.Run(runCtx, e.req)
	}
	e.prejoin = nil // the worker's alone; the job keeps no layout after it
	j.finish(e, res, err, ctx.Err() != nil)
	if err == nil && res != nil && !res.DryRun && j.afterSuccess != nil {
		// Not here: a job that arrives now would wait for retention's
		// calls. Run runs it once the queue has been idle a while.
		j.mu.Lock()
		j.retention.pending = true
		j.mu.Unlock()
	}
	if j.afterEach != nil {
		j.afterEach()
	}
}

// finish ends a job. A job interrupted by the daemon's shutdown keeps the
// state its last record gave it, so the next start resumes it.
func (j *Jobs) finish(e *Job, res *job.Result, err error, interrupted bool) {
	// Count the job before anyone learns it ended, so a caller that reads
	// the metrics after its event stream closes sees this job in them.
	j.metrics.observe(res)
	if res != nil && !res.DryRun {
		j.inv.addCreated(res.CreatedCount())
	}
	j.mu.Lock()
	e.rec.Result, e.rec.Updated = res, j.now()
	// A create call without an answer on record may have taken effect:
	// only a resume, repeating it with its ClientToken, can tell.
	unsettled := res != nil && slices.ContainsFunc(res.Creates, func(c job.CreateCall) bool { return c.ID == "" })
	// A job handed off stays created: the process finishing it (or any
	// next start) resumes it from there.
	handedOff := res != nil && res.HandedOff
	// A job whose caller waited and that sent no create is over when
	// interrupted: its caller was told it failed (see Submit).
	nothingSent := res == nil || len(res.Creates) == 0
	resume := interrupted && (j.resumeInterrupted || unsettled) && !(e.callerWaits && nothingSent)
	if !resume && !handedOff {
		e.rec.State = store.StateDone
	}
	if err != nil {
		e.rec.Error = err.Error()
	}
	e.failed = failedRecord(e.rec)
	e.err = err
	if serr := j.record(e); serr != nil {
		j.log.Error("could not record the job's end", "job", e.rec.ID, "error", serr)
	}
	j.running = nil
	j.recent = append(j.recent, e)
	if len(j.recent) > maxRecent {
		j.recent = j.recent[1:]
	}
	subs := e.subs
	e.subs = nil
	// From here on a subscriber gets a closed stream: one that came after
	// subs were taken and before done was closed waited forever.
	e.ended = true
	j.mu.Unlock()
	for _, s := range subs {
		close(s)
	}
	closeOnce(e.created)
	close(e.done)
	outcome := ""
	if res != nil {
		outcome = res.Outcome
	}
	j.log.Info("job ended", "job", e.rec.ID, "outcome", outcome, "error", err)
}

// publish records an event and hands it to every subscriber without
// blocking: a slow reader misses events rather than stalling the job.
func (j *Jobs) publish(e *Job, ev job.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e.events = append(e.events, ev)
	for _, s := range e.subs {
		select {
		case s <- ev:
		default:
		}
	}
}

// Subscribe returns the job's events so far and a channel for the rest,
// closed when the job ends.
func (j *Jobs) Subscribe(e *Job) ([]job.Event, <-chan job.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	ch := make(chan job.Event, 256)
	past := slices.Clone(e.events)
	if e.ended || isClosed(e.done) {
		close(ch)
	} else {
		e.subs = append(e.subs, ch)
	}
	return past, ch
}

// find returns the in-memory entry of a job, if the daemon has one.
func (j *Jobs) find(id string) *Job {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.findLocked(id)
}

// findLocked is find for callers that hold j.mu.
func (j *Jobs) findLocked(id string) *Job {
	all := append(append(slices.Clone(j.queue), j.recent...), j.running)
	for _, e := range all {
		if e != nil && e.rec.ID == id {
			return e
		}
	}
	return nil
}

// unrecordedViews shows the jobs accepted and not recorded yet (for
// callers that wait, see Submit), which the store does not list.
func (j *Jobs) unrecordedViews() []*localapi.JobView {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*localapi.JobView
	for _, e := range append(slices.Clone(j.queue), j.running) {
		if e != nil && e.unrecorded {
			out = append(out, RecordView(e.rec))
		}
	}
	return out
}

// status reports the running job and the queue length.
func (j *Jobs) status() (running string, queued int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.running != nil {
		running = j.running.rec.ID
	}
	return running, len(j.queue)
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}
