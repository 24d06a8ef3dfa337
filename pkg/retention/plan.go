package retention

import (
	"fmt"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
)

// Deletion kinds.
const (
	KindSnapshot = "snapshot"
	KindGroup    = "group" // DeleteSnapshotGroup: the group and its members
)

// Deletion is one delete call retention makes (or would make).
type Deletion struct {
	Kind    string    `json:"kind"` // KindSnapshot or KindGroup
	ID      string    `json:"id"`
	Job     string    `json:"job,omitempty"`
	Trigger string    `json:"trigger,omitempty"`
	Created time.Time `json:"created"`
	Reason  string    `json:"reason"`
}

// pool is a set of jobs counted together for keep-last: the important jobs,
// or the other jobs of one trigger.
type pool struct {
	important bool
	trigger   string
}

// Plan returns the deletions that cfg calls for at now, oldest job first.
// It only looks at items tagged ecssnap:managed=true, deletes whole jobs,
// never deletes a job with anything still progressing, and holds jobs whose
// tags contradict each other. Walking each pool newest first, a job is
// deleted when it is older than the max age or when keep-last usable jobs
// newer than it are already kept.
func Plan(snaps []cloud.Snapshot, groups []cloud.SnapshotGroup, cfg Config, now time.Time) []Deletion {
	jobs := collectJobs(snaps, groups)
	var out []Deletion
	for i, reason := range verdicts(jobs, cfg, now) {
		if reason != "" {
			out = append(out, jobs[i].deletions(reason)...)
		}
	}
	return out
}

// verdicts returns, for each job (oldest first), why cfg deletes it, or ""
// when it keeps it.
func verdicts(jobs []*job, cfg Config, now time.Time) []string {
	kept := map[pool]int{}
	reasons := make([]string, len(jobs))
	for i := len(jobs) - 1; i >= 0; i-- {
		j := jobs[i]
		if !j.deletable() {
			continue
		}
		p := pool{important: j.important}
		if !j.important {
			p.trigger = j.trigger
		}
		reasons[i] = verdict(cfg.PolicyFor(j.trigger, j.important), p, j, kept[p], now)
		if reasons[i] == "" && j.usable {
			kept[p]++
		}
	}
	return reasons
}

// verdict says why policy deletes j, or "" when it keeps it; kept is the
// number of newer usable jobs of the pool already kept.
func verdict(policy Policy, p pool, j *job, kept int, now time.Time) string {
	switch {
	case policy.MaxAge > 0 && now.Sub(j.created) > policy.MaxAge:
		return fmt.Sprintf("older than %s, the max age of %s", formatAge(policy.MaxAge), p)
	case policy.KeepLast > 0 && kept >= policy.KeepLast:
		return fmt.Sprintf("%d newer jobs kept, the keep-last of %s", kept, p)
	}
	return ""
}

func (p pool) String() string {
	switch {
	case p.important:
		return "important jobs"
	case p.trigger == "":
		return "jobs without a trigger"
	}
	return fmt.Sprintf("trigger %q", p.trigger)
}
