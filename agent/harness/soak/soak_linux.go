package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ecssnap/ecssnap/agent/harness/childenv"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/loopfs"
	"github.com/ecssnap/ecssnap/pkg/store"
)

// Run runs the soak and returns its report. An error means the soak could
// not run (no loop devices, the daemon would not start), not that ecssnap
// failed a check: see Report.Failures.
func Run(ctx context.Context, opts Options) (rep *Report, err error) {
	logf := func(format string, args ...any) { fmt.Fprintf(opts.Progress, format+"\n", args...) }
	for _, t := range opts.FSTypes {
		if err := loopfs.Available(t); err != nil {
			return nil, fmt.Errorf("loop filesystem %s: %w", t, err)
		}
	}
	scratch, err := os.MkdirTemp(opts.Dir, "ecssnap-soak-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if opts.Keep || err != nil || (rep != nil && len(rep.Failures) > 0) {
			logf("soak: scratch directory kept: %s", scratch)
			return
		}
		_ = os.RemoveAll(scratch)
	}()
	logFile, err := os.Create(filepath.Join(scratch, "ecssnap.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	events, err := newEventLog(filepath.Join(scratch, "events.log"))
	if err != nil {
		return nil, err
	}
	defer events.close()

	// Filesystems, each mapped to an emulator disk.
	var fss []*loopfs.FS
	defer func() {
		for _, fs := range fss {
			if derr := fs.Destroy(); derr != nil {
				logf("soak: clean up %s: %v", fs.MountPoint, derr)
			}
		}
	}()
	for i, t := range opts.FSTypes {
		fs, err := loopfs.Create(ctx, t, scratch, loopfs.Options{MountPoint: filepath.Join(scratch, fmt.Sprintf("fs%d", i)), Size: 512 << 20})
		if err != nil {
			return nil, fmt.Errorf("create loop filesystem %s: %w", t, err)
		}
		fss = append(fss, fs)
	}
	sc := scenario(len(fss))

	emu, err := ecsemu.New(sc, ecsemu.Options{Seed: int64(opts.Seed >> 1),
		Logger: slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return nil, err
	}
	srv, err := ecsemu.Listen(emu, ecsemu.ServerConfig{})
	if err != nil {
		return nil, err
	}
	defer srv.Close()

	stateDir := filepath.Join(scratch, "state")
	socket := filepath.Join(scratch, "ecssnap.sock")
	cfgPath := filepath.Join(scratch, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(configYAML(scratch, opts.FreezeDeadline, fss, sc)), 0o600); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(scratch, "hooks.d"), 0o755); err != nil {
		return nil, err
	}
	env := childenv.Clean(map[string]string{
		"ECSSNAP_CONFIG":                  cfgPath,
		"ECSSNAP_METADATA_ENDPOINT":       srv.IMDSURL,
		"ECSSNAP_API_ENDPOINT":            srv.APIURL,
		"ECSSNAP_SOCKET":                  socket,
		"ECSSNAP_STATE_DIR":               stateDir,
		"ECSSNAP_FREEZE_JOURNAL":          filepath.Join(scratch, "freeze.json"),
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     sc.AccessKeys[0].ID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": sc.AccessKeys[0].Secret,
		"ECSSNAP_LOG_LEVEL":               "info",
	})

	own := &owned{}
	d := &daemon{exe: opts.Ecssnap, env: env, socket: socket, log: logFile, owned: own}
	defer func() {
		if serr := d.stop(); serr != nil {
			logf("soak: %v", serr)
		}
	}()
	if err := d.start(ctx); err != nil {
		return nil, err
	}

	// The writer and the probe on every filesystem run from before the
	// first job to after the last one.
	limit := opts.FreezeDeadline + opts.FreezeMargin
	ioCtx, stopIO := context.WithCancel(context.Background())
	var ioWG sync.WaitGroup
	defer func() {
		// On an early return, nothing may still write when the
		// filesystems are destroyed; a thaw frees a writer stuck in a freeze.
		stopIO()
		for _, fs := range fss {
			thaw(fs.MountPoint)
		}
		ioWG.Wait()
	}()
	var writers []*writer
	var probes []*probe
	for i, fs := range fss {
		w := newWriter(fs.MountPoint, 20*time.Millisecond, opts.Seed+uint64(i))
		p := &probe{mount: fs.MountPoint, limit: limit, event: events.printf}
		writers, probes = append(writers, w), append(probes, p)
		ioWG.Add(2)
		go func() { defer ioWG.Done(); w.run(ioCtx) }()
		go func() { defer ioWG.Done(); p.run(ioCtx) }()
	}

	start := time.Now()
	logf("soak: %s against the emulator, %d loop filesystems (%s), freeze deadline %s, seed %d; log %s",
		opts.Duration, len(fss), strings.Join(opts.FSTypes, ", "), opts.FreezeDeadline, opts.Seed, logFile.Name())
	chaosCtx, stopChaos := context.WithTimeout(ctx, opts.Duration)
	defer stopChaos()
	rng := func(stream uint64) *mrand.Rand { return mrand.New(mrand.NewPCG(opts.Seed, stream)) }
	ch := &chaos{
		admin:  &faultAdmin{url: srv.AdminURL, client: &http.Client{Timeout: 10 * time.Second}},
		daemon: d, owned: own, procRoot: "/proc", log: logf, event: events.printf,
		killEvery: opts.KillEvery, helperKill: opts.HelperKill, windowKill: opts.WindowKill,
		killSoon: make(chan time.Duration),
		frozen: func() bool {
			now := time.Now()
			for _, p := range probes {
				if p.blocked(now) > frozenHint {
					return true
				}
			}
			return false
		},
	}
	js := &jobs{}
	sub := &submitter{socket: socket, exe: opts.Ecssnap, env: env, owned: own, jobs: js}
	var wg sync.WaitGroup
	for i, run := range []func(context.Context, *mrand.Rand){ch.runFaults, ch.runDaemonKills, ch.runHelperKills, sub.runAPI, sub.runCLI} {
		wg.Add(1)
		go func() { defer wg.Done(); run(chaosCtx, rng(uint64(i+1))) }()
	}
	go progress(chaosCtx, logf, start, js, d, ch)
	wg.Wait()
	logf("soak: faults over after %s; final daemon restart and drain", time.Since(start).Round(time.Second))

	// One last kill, then a daemon that must finish everything.
	d.kill()
	if err := d.start(ctx); err != nil {
		return nil, err
	}
	drained := drain(ctx, socket, js.accepted())
	if err := d.stop(); err != nil {
		logf("soak: %v", err)
	}
	soaked := time.Since(start)

	// Stop the writers and probes; a probe still blocked means a
	// filesystem is still frozen.
	stopIO()
	ioDone := make(chan struct{})
	go func() { ioWG.Wait(); close(ioDone) }()
	select {
	case <-ioDone:
	case <-time.After(limit + 5*time.Second):
	}
	rep = &Report{Duration: soaked, Seed: opts.Seed, Drained: drained, Accepted: len(js.accepted())}
	for i, fs := range fss {
		if b := probes[i].blocked(time.Now()); b > limit {
			rep.StillFrozen = append(rep.StillFrozen, fmt.Sprintf("%s: a write has been blocked for %s", fs.MountPoint, b.Round(time.Millisecond)))
		} else if err := writable(fs.MountPoint, 2*time.Second); err != nil {
			rep.StillFrozen = append(rep.StillFrozen, err.Error())
		}
	}
	select {
	case <-ioDone:
	default:
		// Thaw what is stuck so the writers return and the scratch can go.
		for _, fs := range fss {
			thaw(fs.MountPoint)
		}
		<-ioDone
	}

	// What the store, the emulator and the filesystems say.
	st, err := store.OpenReadOnly(stateDir, store.Options{})
	if err != nil {
		return nil, err
	}
	recs, err := st.List(store.ListOptions{})
	_ = st.Close()
	if err != nil {
		return nil, fmt.Errorf("read the job store: %w", err)
	}
	rep.Jobs = checkJobs(js.accepted(), recs)
	rep.Requests, rep.Refused = js.bySource, js.refused
	calls := emu.Calls()
	state := emu.State()
	if err := writeJSON(filepath.Join(scratch, "calls.json"), calls); err != nil {
		logf("soak: %v", err)
	}
	if err := writeJSON(filepath.Join(scratch, "state.json"), state); err != nil {
		logf("soak: %v", err)
	}
	rep.Duplicates = append(findDuplicates(state), findTokenDuplicates(calls)...)
	rep.Phantoms = findPhantoms(recs, state)
	rep.Faults = faultCounts(calls)
	rep.APICalls, rep.Snapshots, rep.Groups = len(calls), len(state.Snapshots), len(state.Groups)
	rep.DaemonStarts, rep.DaemonKills = d.counts()
	ch.mu.Lock()
	rep.FaultPhases, rep.IMDSFlaps, rep.IMDSOutage = ch.phases, ch.flaps, ch.outage
	rep.HelpersSeen, rep.HelperKills = ch.helpersSeen, ch.helperKills
	rep.DaemonKillsFrozen, rep.HelperKillsFrozen = ch.daemonKillsFrozen, ch.helperKillsFrozen
	if ch.restartErr != nil {
		rep.Failures = append(rep.Failures, "daemon restart: "+ch.restartErr.Error())
	}
	ch.mu.Unlock()
	for i, fs := range fss {
		ps := probes[i].stats()
		rep.FreezesSeen += ps.Stalls
		rep.LongestFreeze = max(rep.LongestFreeze, ps.Longest)
		rep.PastDeadline = append(rep.PastDeadline, ps.Past...)
		if ps.Err != nil {
			rep.WriterErrors = append(rep.WriterErrors, ps.Err.Error())
		}
		n, b, full, werr := writers[i].stats()
		rep.RecordsWritten += n
		rep.BytesWritten += b
		if full {
			rep.Notes = append(rep.Notes, fs.MountPoint+" filled up; its writer stopped early")
		}
		if werr != nil {
			rep.WriterErrors = append(rep.WriterErrors, werr.Error())
		}
	}
	rep.FreezeLimit = limit
	// Read the records back from the devices, not the page cache.
	for i, fs := range fss {
		if err := remount(fs); err != nil {
			return rep, err
		}
		loss, err := writers[i].verify()
		if err != nil {
			return rep, err
		}
		rep.RecordsLost += loss.Records
		rep.BytesLost += loss.Bytes
		if loss.Records > 0 {
			rep.LostDetail = append(rep.LostDetail, fmt.Sprintf("%s: %d acknowledged records lost or corrupt, first seq %d", fs.MountPoint, loss.Records, loss.First))
		}
	}
	rep.finish()
	return rep, nil
}

// drain waits until the daemon has finished every accepted job (or has
// nothing left to run) and reports whether it got there in time.
func drain(ctx context.Context, socket string, ids []string) bool {
	client := localapi.NewClient(socket)
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(drainWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		h, err := client.Health(ctx)
		if err == nil && h.RunningJob == "" && h.Queued == 0 && allDone(ctx, client, ids) {
			return true
		}
		time.Sleep(250 * time.Millisecond)
	}
	return false
}

func allDone(ctx context.Context, client *localapi.Client, ids []string) bool {
	for _, id := range ids {
		v, err := client.GetJob(ctx, id)
		if errors.Is(err, localapi.ErrNotFound) {
			continue // lost: waiting will not bring it back; the check reports it
		}
		if err != nil || v.State != "done" {
			return false
		}
	}
	return true
}

// writable writes to mp and fails if the write does not finish in time:
// a frozen filesystem blocks writers.
func writable(mp string, limit time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- os.WriteFile(filepath.Join(mp, ".soak-thawed"), []byte("x"), 0o644) }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		return fmt.Errorf("%s: still frozen at the end (a write blocked for %s)", mp, limit)
	}
}

// progress prints a line every 15 s while the faults go on.
func progress(ctx context.Context, logf func(string, ...any), start time.Time, js *jobs, d *daemon, ch *chaos) {
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, kills := d.counts()
		ch.mu.Lock()
		hk := ch.helperKills
		ch.mu.Unlock()
		logf("soak: %s: %d jobs accepted, %d daemon kills, %d helper kills",
			time.Since(start).Round(time.Second), len(js.accepted()), kills, hk)
	}
}

// writeJSON saves what the emulator saw, for a look after a failed run.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// remount unmounts fs and mounts it again, so that what is read next comes
// from the device.
func remount(fs *loopfs.FS) error {
	if err := unmountWait(fs.MountPoint, time.Minute); err != nil {
		return fmt.Errorf("unmount %s to read it back: %w", fs.MountPoint, err)
	}
	if err := syscall.Mount(fs.Devices[0], fs.MountPoint, fs.Type, 0, ""); err != nil {
		return fmt.Errorf("mount %s again: %w", fs.MountPoint, err)
	}
	return nil
}
