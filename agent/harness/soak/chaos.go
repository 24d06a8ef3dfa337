package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
)

// faultAdmin changes the emulator's faults through its admin API, as an
// operator testing ecssnap would.
type faultAdmin struct {
	url    string // the admin API's base URL
	client *http.Client
}

func (a *faultAdmin) set(ctx context.Context, f ecsemu.Faults) error {
	body, err := json.Marshal(f)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, a.url+"/v1/faults", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("set emulator faults: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("set emulator faults: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// chaos is everything the soak does to ecssnap: API faults that change
// every few seconds, metadata outages, daemon and freeze-helper SIGKILLs.
type chaos struct {
	admin    *faultAdmin
	daemon   *daemon
	owned    *owned
	procRoot string
	log      func(format string, args ...any)
	event    func(format string, args ...any) // the events log

	// Intervals between daemon kills, and the chance a helper is killed.
	killEvery  [2]time.Duration
	helperKill float64
	// windowKill is the chance that a helper's start (a freeze window
	// about to open) makes the daemon the target instead, through
	// killSoon: windows are short, and timed kills rarely land in one.
	windowKill float64
	killSoon   chan time.Duration
	// frozen reports whether a filesystem looks frozen right now (a probe
	// write is blocked), to tell how many kills hit a freeze window.
	frozen func() bool

	mu          sync.Mutex
	phases      int
	flaps       int
	outage      time.Duration
	helpersSeen int
	helperKills int
	// Kills while a filesystem was frozen.
	daemonKillsFrozen, helperKillsFrozen int
	restartErr                           error
}

// apiFaults draws the next phase's API faults. Each kind is on in about
// half of the phases, so phases with one kind alone also occur.
func apiFaults(rng *mrand.Rand) ecsemu.Faults {
	var f ecsemu.Faults
	if rng.IntN(2) == 0 {
		f.ThrottleRate = 0.05 + 0.25*rng.Float64()
	}
	if rng.IntN(2) == 0 {
		f.ErrorRate = 0.05 + 0.15*rng.Float64()
	}
	if rng.IntN(2) == 0 {
		f.DropRate = 0.1 + 0.3*rng.Float64()
	}
	if rng.IntN(3) == 0 {
		f.Latency = time.Duration(rng.IntN(40)) * time.Millisecond
		f.LatencyJitter = time.Duration(rng.IntN(40)) * time.Millisecond
	}
	if rng.IntN(3) == 0 {
		// Faults on the creates alone: the calls whose repeats could duplicate.
		f.Actions = []string{"CreateSnapshot", "CreateSnapshotGroup"}
	}
	return f
}

// runFaults changes the API faults every 2-6 s and takes the metadata
// service down for 0.3-3 s every 3-12 s, until ctx ends; then it clears
// every fault.
func (c *chaos) runFaults(ctx context.Context, rng *mrand.Rand) {
	f := apiFaults(rng)
	nextPhase := time.Now().Add(between(rng, 2*time.Second, 6*time.Second))
	nextFlap := time.Now().Add(between(rng, 3*time.Second, 12*time.Second))
	var outageStart time.Time
	apply := func() {
		if err := c.admin.set(ctx, f); err != nil && ctx.Err() == nil {
			c.log("soak: %v", err)
		}
	}
	apply()
	for {
		wake := nextPhase
		if nextFlap.Before(wake) {
			wake = nextFlap
		}
		select {
		case <-ctx.Done():
			clearCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := c.admin.set(clearCtx, ecsemu.Faults{}); err != nil {
				c.log("soak: clear faults: %v", err)
			}
			if f.IMDSOutage {
				c.addOutage(time.Since(outageStart))
			}
			return
		case <-time.After(time.Until(wake)):
		}
		now := time.Now()
		if !now.Before(nextPhase) {
			outage := f.IMDSOutage
			f = apiFaults(rng)
			f.IMDSOutage = outage
			nextPhase = now.Add(between(rng, 2*time.Second, 6*time.Second))
			c.mu.Lock()
			c.phases++
			c.mu.Unlock()
		}
		if !now.Before(nextFlap) {
			f.IMDSOutage = !f.IMDSOutage
			if f.IMDSOutage {
				outageStart = now
				nextFlap = now.Add(between(rng, 300*time.Millisecond, 3*time.Second))
				c.mu.Lock()
				c.flaps++
				c.mu.Unlock()
			} else {
				c.addOutage(now.Sub(outageStart))
				nextFlap = now.Add(between(rng, 3*time.Second, 12*time.Second))
			}
		}
		c.event("faults: %s", faultsText(f))
		apply()
	}
}

// faultsText is f for the events log.
func faultsText(f ecsemu.Faults) string {
	b, _ := json.Marshal(f)
	return string(b)
}

func (c *chaos) addOutage(d time.Duration) {
	c.mu.Lock()
	c.outage += d
	c.mu.Unlock()
}

// runDaemonKills SIGKILLs the daemon at random instants, and soon after
// some freeze helpers start, and starts a new one after a random pause,
// until ctx ends.
func (c *chaos) runDaemonKills(ctx context.Context, rng *mrand.Rand) {
	timer := time.NewTimer(between(rng, c.killEvery[0], c.killEvery[1]))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case after := <-c.killSoon:
			time.Sleep(after)
		}
		frozen := c.frozen()
		c.event("kill daemon (frozen: %t)", frozen)
		if c.daemon.kill() && frozen {
			c.mu.Lock()
			c.daemonKillsFrozen++
			c.mu.Unlock()
		}
		time.Sleep(between(rng, 0, 500*time.Millisecond))
		if err := c.daemon.start(ctx); err != nil && ctx.Err() == nil {
			c.mu.Lock()
			c.restartErr = err
			c.mu.Unlock()
			c.log("soak: %v", err)
			return
		}
		// The next timed kill counts from the new daemon's start. Since
		// Go 1.23 Reset discards a pending expiry: no drain needed.
		timer.Reset(between(rng, c.killEvery[0], c.killEvery[1]))
	}
}

// runHelperKills watches for freeze helpers of the soak's own ecssnap
// processes and SIGKILLs a share of them at a random instant of their
// life (opening the mounts, frozen around the creates, thawing).
func (c *chaos) runHelperKills(ctx context.Context, rng *mrand.Rand) {
	type id struct {
		pid   int
		start uint64
	}
	seen := map[id]bool{}
	for ctx.Err() == nil {
		for _, h := range helpersOf(c.procRoot, c.owned.snapshot()) {
			k := id{h.pid, h.start}
			if seen[k] {
				continue
			}
			seen[k] = true
			c.mu.Lock()
			c.helpersSeen++
			c.mu.Unlock()
			switch x := rng.Float64(); {
			case x < c.helperKill:
				go c.killHelperLater(h, between(rng, 0, 200*time.Millisecond))
			case x < c.helperKill+c.windowKill:
				select {
				case c.killSoon <- between(rng, 0, 200*time.Millisecond):
				default: // a daemon kill is under way already
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *chaos) killHelperLater(h procInfo, after time.Duration) {
	time.Sleep(after)
	// The same process still (a pid can be reused)?
	now, err := readProc(c.procRoot, h.pid, func(int) bool { return true })
	if err != nil || now.start != h.start || now.argv0 != helperArgv0 {
		return
	}
	frozen := c.frozen()
	c.event("kill helper pid %d of parent %d (frozen: %t)", h.pid, h.ppid, frozen)
	if syscall.Kill(h.pid, syscall.SIGKILL) == nil {
		c.mu.Lock()
		c.helperKills++
		if frozen {
			c.helperKillsFrozen++
		}
		c.mu.Unlock()
	}
}

// between draws a duration uniformly from [lo, hi).
func between(rng *mrand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}
