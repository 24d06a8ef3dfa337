package hook

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// zypper's commit-plugin commands (libzypp, doc "plugin-commit").
const (
	zyppPluginBegin = "PLUGINBEGIN"
	zyppCommitBegin = "COMMITBEGIN"
	zyppCommitEnd   = "COMMITEND"
	zyppPluginEnd   = "PLUGINEND"
	zyppDisconnect  = "_DISCONNECT"
	zyppAck         = "ACK"
)

// zyppDefaultTimeout is how long libzypp waits for a plugin's reply
// unless ZYPP_PLUGIN_RECEIVE_TIMEOUT or ZYPP_PLUGIN_TIMEOUT say otherwise;
// after it the plugin is killed.
const zyppDefaultTimeout = 30 * time.Second

// zypper is a commit plugin (/usr/lib/zypp/plugins/commit/ecssnap): a
// conversation of frames on stdin and stdout. Every frame is answered
// with ACK; the snapshot runs on COMMITBEGIN. libzypp offers its commit
// plugins no veto, so a failure is reported loudly and zypper goes on.
// The exit code is 0 unless the arguments are wrong.
func (h *hook) zypper(ctx context.Context, args []string, in io.Reader) int {
	if !h.noArgs("zypper", args) {
		return ExitUsage
	}
	r := bufio.NewReader(in)
	var pending []<-chan struct{} // snapshots still running after their ACK
	defer func() {
		// zypper waits for its plugins to exit: finishing the job here
		// delays zypper's exit, never its commit.
		for _, done := range pending {
			select {
			case <-done:
			case <-ctx.Done():
			}
		}
	}()
	for {
		f, err := ReadFrame(r)
		if errors.Is(err, io.EOF) {
			return ExitGoOn
		}
		if err != nil {
			h.say("WARNING: ecssnap: zypper plugin: %v", err)
			return ExitGoOn
		}
		if f.Command == zyppCommitBegin {
			if done := h.zypperCommit(ctx, f); done != nil {
				pending = append(pending, done)
			}
		}
		if err := WriteFrame(h.env.Stdout, Frame{Command: zyppAck}); err != nil {
			h.say("WARNING: ecssnap: zypper plugin: %v", err)
			return ExitGoOn
		}
		if f.Command == zyppDisconnect {
			return ExitGoOn
		}
	}
}

// zypperCommit starts the snapshot for a COMMITBEGIN and waits for it
// until shortly before libzypp would give up on the reply. It returns a
// channel closed when a snapshot still running at that point ends.
func (h *hook) zypperCommit(ctx context.Context, f Frame) <-chan struct{} {
	tx := transaction{manager: "zypper", trigger: "zypper"}
	changes, err := zypperChanges(f.Body)
	if err != nil {
		h.say("WARNING: ecssnap: could not read zypper's transaction (%v); taking the snapshot anyway", err)
		tx.unknown = true
	}
	tx.changes = changes
	c, ok := h.prepare(tx)
	if !ok {
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, joined, err := h.run(ctx, c)
		h.verdict(ctx, c, outcome{res: res, joined: joined, err: err}, false)
	}()
	budget := zyppReplyBudget(h.env.Getenv)
	timer := time.NewTimer(budget)
	defer timer.Stop()
	select {
	case <-done:
		return nil
	case <-timer.C:
		h.say("WARNING: ecssnap: the snapshot before %s is not created after %s and zypper waits for its plugins only a little longer; zypper goes on now, and the snapshot may catch part of the commit", c.cmdline, budget)
		return done
	}
}

// zyppReplyBudget is how long the snapshot may hold the reply: libzypp's
// receive timeout less a margin for the answer to get there.
func zyppReplyBudget(getenv func(string) string) time.Duration {
	timeout := zyppDefaultTimeout
	for _, name := range []string{envZyppReceiveTimeout, envZyppTimeout} {
		if s, err := strconv.Atoi(strings.TrimSpace(getenv(name))); err == nil && s > 0 {
			timeout = time.Duration(s) * time.Second
			break
		}
	}
	return timeout - min(5*time.Second, timeout/2)
}

// zyppStep is one entry of COMMITBEGIN's TransactionStepList: type "+"
// (install, also for an upgrade's new version), "-" (erase) or "M"
// (multiversion install); solvable n, e, v, r, a.
type zyppStep struct {
	Type     string `json:"type"`
	Stage    string `json:"stage"`
	Solvable struct {
		N string `json:"n"`
		E string `json:"e"`
		V string `json:"v"`
		R string `json:"r"`
		A string `json:"a"`
	} `json:"solvable"`
}

// zypperChanges reads COMMITBEGIN's body:
// {"TransactionStepList":[{"type":"+","solvable":{"n":"curl",...}}]}.
func zypperChanges(body []byte) ([]Change, error) {
	var doc struct {
		Steps []zyppStep `json:"TransactionStepList"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode TransactionStepList: %w", err)
	}
	var out []Change
	for _, s := range doc.Steps {
		if s.Solvable.N == "" {
			continue
		}
		version := s.Solvable.V
		if s.Solvable.R != "" {
			version += "-" + s.Solvable.R
		}
		if s.Solvable.E != "" && s.Solvable.E != "0" {
			version = s.Solvable.E + ":" + version
		}
		c := Change{Name: s.Solvable.N, Arch: s.Solvable.A}
		switch s.Type {
		case "+", "M":
			c.Action, c.To = ActionInstall, version
		case "-":
			c.Action, c.From = ActionRemove, version
		default:
			continue // ignored steps (obsoletes) carry no type
		}
		out = append(out, c)
	}
	return out, nil
}
