package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os/exec"
	"sync"
	"time"

	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

const (
	// maxQueued keeps the daemon's queue short: a soak that only queues
	// would measure the drain, not the faults.
	maxQueued = 2
	// cliTimeout bounds one `ecssnap now --no-wait` (it waits until the
	// creates are accepted, or runs the job itself when no daemon answers).
	cliTimeout = 3 * time.Minute
)

// jobs is every job ID ecssnap gave the soak, and the requests it refused.
type jobs struct {
	mu       sync.Mutex
	ids      []string
	known    map[string]bool
	bySource map[string]int // accepted requests by source (api, api-joined, cli, ...)
	refused  map[string]int // requests that got no ID, by reason
}

func (j *jobs) accept(id, source string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.known == nil {
		j.known, j.bySource = map[string]bool{}, map[string]int{}
	}
	j.bySource[source]++
	if !j.known[id] {
		j.known[id] = true
		j.ids = append(j.ids, id)
	}
}

func (j *jobs) refuse(reason string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.refused == nil {
		j.refused = map[string]int{}
	}
	j.refused[reason]++
}

func (j *jobs) accepted() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.ids...)
}

// submitter asks for jobs without pause: through the local API, the way
// hooks and fleet tools do, and through `ecssnap now --no-wait`.
type submitter struct {
	socket string
	exe    string
	env    []string
	owned  *owned
	jobs   *jobs
}

// runAPI submits through the local API client every 0.3-1.5 s while the
// queue is short. A third of the requests are hook-like (trigger apt, a
// session key shared by a few requests, so they coalesce); some follow
// their snapshots to completion.
func (s *submitter) runAPI(ctx context.Context, rng *mrand.Rand) {
	client := localapi.NewClient(s.socket)
	session, left := "", 0
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(between(rng, 300*time.Millisecond, 1500*time.Millisecond)):
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if h, err := client.Health(cctx); err == nil && h.Queued >= maxQueued {
			cancel()
			continue
		}
		req := localapi.CreateJobRequest{Trigger: "soak", Disks: plan.Selection{Kind: "all"}, Force: true,
			Reason: fmt.Sprintf("soak request %d", n), Complete: rng.IntN(3) == 0}
		source := "api"
		if rng.IntN(3) == 0 {
			if left == 0 {
				session, left = fmt.Sprintf("soak-session-%d", n), 1+rng.IntN(3)
			}
			left--
			req.Trigger, req.Session, req.Force, source = "apt", session, false, "api-hook"
		}
		v, err := client.CreateJob(cctx, req)
		cancel()
		switch {
		case err == nil:
			if v.Joined {
				source += " (joined)"
			}
			s.jobs.accept(v.ID, source)
		case errors.Is(err, localapi.ErrDaemonNotRunning):
			s.jobs.refuse("api: daemon not running")
		case ctx.Err() != nil:
			return
		default:
			s.jobs.refuse("api: " + shortError(err))
		}
	}
}

// runCLI runs `ecssnap now --no-wait --json` every 2-6 s. When no daemon
// answers, the CLI runs the job in its own process (recorded in the same
// store), which the soak's kills make happen now and then.
func (s *submitter) runCLI(ctx context.Context, rng *mrand.Rand) {
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(between(rng, 2*time.Second, 6*time.Second)):
		}
		id, err := s.now(n)
		switch {
		case err != nil:
			s.jobs.refuse("cli: " + shortError(err))
		case id == "":
			s.jobs.refuse("cli: no job ID in the output")
		default:
			s.jobs.accept(id, "cli")
		}
	}
}

// now runs the CLI once and returns the job ID it printed. It is not tied
// to the soak's context: a CLI that runs a job in-process finishes it.
func (s *submitter) now(n int) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.exe, "now", "--no-wait", "--json", "--force",
		"--trigger", "soak-cli", "--reason", fmt.Sprintf("soak cli run %d", n))
	cmd.Env = s.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	s.owned.add(cmd.Process.Pid)
	err := cmd.Wait()
	s.owned.remove(cmd.Process.Pid)
	var res struct {
		JobID string `json:"job_id"`
	}
	// A failed job still prints its result, ID included, and exits non-zero.
	if jerr := json.Unmarshal(stdout.Bytes(), &res); jerr == nil && res.JobID != "" {
		return res.JobID, nil
	}
	if ctx.Err() != nil {
		return "", fmt.Errorf("timed out after %s", cliTimeout)
	}
	if err != nil {
		// The socket's path differs from run to run; the tally groups by message.
		msg := lastLine(bytes.ReplaceAll(stderr.Bytes(), []byte(s.socket), []byte("$SOCKET")))
		return "", fmt.Errorf("%w: %s", err, msg)
	}
	return "", nil
}

// shortError keeps error tallies readable: the first line, cut.
func shortError(err error) string {
	return lastLine([]byte(err.Error()))
}

func lastLine(b []byte) string {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	if len(b) > 120 {
		b = append(b[:117:117], "..."...)
	}
	return string(b)
}
