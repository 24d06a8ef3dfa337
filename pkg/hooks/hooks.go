// Package hooks runs the administrator's scripts in /etc/ecssnap/hooks.d/
// around a snapshot job: pre-freeze (quiesce an application), post-thaw
// (resume it), post-complete and on-failure. Scripts run in lexical order,
// each in its own process group under a timeout, never while a filesystem is
// frozen, and only when root owns them and nobody else may write them, nor
// any directory or symlink on the way to them (see trusted).
package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Phase names when a script runs; it is the script's first argument and
// ECSSNAP_PHASE.
type Phase string

const (
	PreFreeze    Phase = "pre-freeze"
	PostThaw     Phase = "post-thaw"
	PostComplete Phase = "post-complete"
	OnFailure    Phase = "on-failure"
)

// DefaultDir is where the scripts live.
const DefaultDir = "/etc/ecssnap/hooks.d"

// Defaults for the timeouts.
const (
	DefaultScriptTimeout = 60 * time.Second
	DefaultTotalTimeout  = 5 * time.Minute
	// killGrace is how long a timed-out script's process group has between
	// SIGTERM and SIGKILL.
	killGrace = 2 * time.Second
	// maxOutput bounds the output kept per script (the tail is kept).
	maxOutput = 16 << 10
)

// Runner finds and runs the scripts.
type Runner struct {
	Dir           string
	ScriptTimeout time.Duration
	TotalTimeout  time.Duration
	// OwnerUID is the uid that must own every script (0 outside tests).
	OwnerUID int
	Logger   *slog.Logger
}

// Env is what a script is told about the job.
type Env struct {
	Job     string
	Trigger string
	Disks   []string
	Mounts  []string
}

// Script is one runnable hook.
type Script struct {
	Name string
	Path string
}

// Refused is a file in the directory that will not be run, and why.
type Refused struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Result is one script's run.
type Result struct {
	Name     string        `json:"name"`
	ExitCode int           `json:"exit_code"`
	Duration time.Duration `json:"duration_ns"`
	TimedOut bool          `json:"timed_out,omitempty"`
	// Output is the tail of the script's combined stdout and stderr. It
	// goes to the log (the journal) and never into the job's record or the
	// API's view of it: a script may print secrets (`env` would print the
	// daemon's credentials), and members of group ecssnap read jobs.
	Output string `json:"-"`
	Error  string `json:"error,omitempty"`
}

// Report is one phase's run.
type Report struct {
	Phase   Phase     `json:"phase"`
	Results []Result  `json:"results,omitempty"`
	Refused []Refused `json:"refused,omitempty"`
}

// Failed reports whether any script failed, timed out, or was refused.
func (r Report) Failed() bool {
	if len(r.Refused) > 0 {
		return true
	}
	for _, res := range r.Results {
		if res.ExitCode != 0 || res.TimedOut || res.Error != "" {
			return true
		}
	}
	return false
}

// Err summarises a failed report in one line, or returns nil.
func (r Report) Err() error {
	if !r.Failed() {
		return nil
	}
	var parts []string
	for _, x := range r.Refused {
		parts = append(parts, fmt.Sprintf("%s refused (%s)", x.Name, x.Reason))
	}
	for _, res := range r.Results {
		switch {
		case res.TimedOut:
			parts = append(parts, res.Name+" timed out")
		case res.Error != "":
			parts = append(parts, res.Name+": "+res.Error)
		case res.ExitCode != 0:
			parts = append(parts, fmt.Sprintf("%s exited %d", res.Name, res.ExitCode))
		}
	}
	return fmt.Errorf("%s hooks failed: %s", r.Phase, strings.Join(parts, "; "))
}

func (r *Runner) defaults() {
	if r.Dir == "" {
		r.Dir = DefaultDir
	}
	if r.ScriptTimeout <= 0 {
		r.ScriptTimeout = DefaultScriptTimeout
	}
	if r.TotalTimeout <= 0 {
		r.TotalTimeout = DefaultTotalTimeout
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
}

// Discover lists the scripts that will run, in order, and the files that
// will not. A missing directory means no hooks.
func (r *Runner) Discover() ([]Script, []Refused, error) {
	r.defaults()
	entries, err := os.ReadDir(r.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read hook directory: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	entries = slices.DeleteFunc(entries, func(e fs.DirEntry) bool { return ignored(e.Name()) })
	if len(entries) == 0 {
		return nil, nil, nil
	}
	t := trusted{uid: r.OwnerUID}
	if reason := t.checkScriptDir(r.Dir); reason != "" {
		// Whoever can change a directory on the way chooses every script:
		// none of them runs.
		return nil, []Refused{{Name: r.Dir, Reason: reason}}, nil
	}
	var scripts []Script
	var refused []Refused
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(r.Dir, name)
		if reason := t.checkScript(path); reason != "" {
			refused = append(refused, Refused{Name: name, Reason: reason})
			continue
		}
		scripts = append(scripts, Script{Name: name, Path: path})
	}
	return scripts, refused, nil
}

// ignored skips hidden files and package-manager or editor leftovers, which
// are never meant to run.
func ignored(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") ||
		strings.Contains(name, ".dpkg-") || strings.HasSuffix(name, ".rpmnew") ||
		strings.HasSuffix(name, ".rpmsave") || strings.HasSuffix(name, ".rpmorig") ||
		strings.HasSuffix(name, ".ucf-old") || strings.HasSuffix(name, ".ucf-new") ||
		strings.HasSuffix(name, ".disabled")
}

// Run runs every script for phase, in order, sequentially. A failing script
// does not stop the others: post-thaw and on-failure work must all happen.
func (r *Runner) Run(ctx context.Context, phase Phase, env Env) Report {
	r.defaults()
	rep := Report{Phase: phase}
	scripts, refused, err := r.Discover()
	rep.Refused = refused
	if err != nil {
		rep.Results = append(rep.Results, Result{Name: r.Dir, ExitCode: -1, Error: err.Error()})
		return rep
	}
	ctx, cancel := context.WithTimeout(ctx, r.TotalTimeout)
	defer cancel()
	for _, s := range scripts {
		res := r.runOne(ctx, s, phase, env)
		level := slog.LevelInfo
		if res.ExitCode != 0 || res.TimedOut || res.Error != "" {
			level = slog.LevelWarn
		}
		r.Logger.Log(ctx, level, "hook ran", "phase", phase, "script", s.Name, "job", env.Job, "exit", res.ExitCode,
			"timed_out", res.TimedOut, "ms", res.Duration.Milliseconds(), "output", res.Output)
		rep.Results = append(rep.Results, res)
	}
	return rep
}

func (r *Runner) runOne(ctx context.Context, s Script, phase Phase, env Env) Result {
	ctx, cancel := context.WithTimeout(ctx, r.ScriptTimeout)
	defer cancel()
	cmd := exec.Command(s.Path, string(phase))
	cmd.Dir = "/"
	cmd.Env = scriptEnv(phase, env)
	var out tailBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so a timeout kills whatever the script started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A grandchild that left the group may hold the output pipe open: stop
	// waiting for it once the script itself is gone.
	cmd.WaitDelay = killGrace
	start := time.Now()
	res := Result{Name: s.Name}
	if err := cmd.Start(); err != nil {
		res.ExitCode, res.Error = -1, err.Error()
		return res
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		res.TimedOut = true
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case err = <-done:
		case <-time.After(killGrace):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			err = <-done
		}
	}
	res.Duration = time.Since(start)
	res.Output = out.String()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
	default:
		res.ExitCode, res.Error = -1, err.Error()
	}
	return res
}

// ScriptPath is the PATH a script gets.
const ScriptPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// scriptEnv is a script's whole environment: a fixed PATH and LANG and
// the documented ECSSNAP_* variables. Never the daemon's own environment,
// which may hold the cloud credentials (ALIBABA_CLOUD_ACCESS_KEY_SECRET)
// or whatever the caller of an in-process job had set.
func scriptEnv(phase Phase, env Env) []string {
	return []string{
		"PATH=" + ScriptPath,
		"LANG=C.UTF-8",
		"HOME=/",
		"ECSSNAP_PHASE=" + string(phase),
		"ECSSNAP_JOB=" + env.Job,
		"ECSSNAP_TRIGGER=" + env.Trigger,
		"ECSSNAP_DISKS=" + strings.Join(env.Disks, " "),
		"ECSSNAP_MOUNTS=" + strings.Join(env.Mounts, "\n"),
	}
}

// tailBuffer keeps the last maxOutput bytes written to it.
type tailBuffer struct{ buf bytes.Buffer }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if over := t.buf.Len() - maxOutput; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return t.buf.String() }
