package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/plan"
	"github.com/ecssnap/ecssnap/pkg/retention"
)

// nowFlags are the flags of `ecssnap now`.
type nowFlags struct {
	reason, trigger, disks string
	wait, noWait, json     bool
	dryRun                 bool
	timeout                time.Duration
	retentionDays          int
	tags                   tagList
	mounts                 stringList
	allowInconsistent      bool
	consistency, require   string
	force                  bool
	session                string
	important              bool
}

// stringList collects a repeated flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
func (l *stringList) Type() string       { return "stringArray" }

// tagList collects repeated --tag k=v flags.
type tagList []cloud.Tag

func (t *tagList) String() string { return "" }
func (t *tagList) Type() string   { return "tag" }

func (t *tagList) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want key=value, got %q", v)
	}
	tag := cloud.Tag{Key: strings.TrimSpace(k), Value: val}
	if err := job.ValidateUserTag(tag); err != nil {
		return err
	}
	*t = append(*t, tag)
	return nil
}

// newNowCmd is `ecssnap now`, also run as snapshot-now.
func newNowCmd(r *runner) *cobra.Command {
	var f nowFlags
	cmd := &cobra.Command{
		Use:   "now [flags]",
		Short: "take snapshots now (snapshot-now is the same)",
		Args:  noArgs,
		RunE: r.with(func(ctx context.Context, a *app, _ []string) error {
			return runNow(ctx, a, &f)
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&f.reason, "reason", "", "`TEXT` saying why the snapshot is taken (goes into the description)")
	fs.StringVar(&f.trigger, "trigger", "manual", "`NAME` of what asked for the snapshot (manual, apt, dnf, script, ...)")
	fs.StringVar(&f.disks, "disks", "all", "`DISKS` to snapshot: all, system, data, or comma-separated disk IDs")
	fs.BoolVar(&f.wait, "wait", false, "wait until every snapshot is accomplished (the default on a terminal)")
	fs.BoolVar(&f.noWait, "no-wait", false, "return once every snapshot is created")
	fs.Var(durationFlag{&f.timeout}, "timeout", "how long to wait for completion, a `DURATION` like 30m (default from config, 1h)")
	fs.Var(rangeFlag{&f.retentionDays, 1, 65536}, "retention-days", "delete per-disk snapshots automatically after `N` days (1..65536)")
	fs.Var(&f.tags, "tag", "extra tag `KEY=VALUE` (repeatable)")
	fs.StringVar(&f.consistency, "consistency", "", "desired `LEVEL`: crash, fs (filesystems frozen) or app (hooks too); default fs where freezing is possible")
	fs.StringVar(&f.require, "require", "crash", "minimum `LEVEL`: below it the job fails")
	fs.Var(&f.mounts, "mount", "snapshot the disks under the filesystem mounted at `PATH` (repeatable)")
	fs.BoolVar(&f.allowInconsistent, "allow-inconsistent", false, "accept a filesystem spanning disks that cannot be captured at one point in time")
	fs.BoolVar(&f.json, "json", false, "print JSON (NDJSON events then the result with --wait)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "show the plan, create nothing")
	fs.BoolVar(&f.important, "important", false, "mark the snapshots important: retention keeps them under its stricter limit")
	fs.BoolVar(&f.force, "force", false, "always make a new job, even where this request would join one")
	fs.StringVar(&f.session, "session", "", "coalescing `KEY`: requests with the same key join one job (hooks set it)")
	completeDisks(cmd)
	completeWords(cmd, "consistency", "crash", "fs", "app")
	completeWords(cmd, "require", "crash", "fs", "app")
	completeWords(cmd, "trigger", "manual", "script", "apt", "dnf", "yum", "zypper", "pacman")
	completeMounts(cmd)
	return cmd
}

func runNow(ctx context.Context, a *app, f *nowFlags) error {
	if f.consistency == "" {
		f.consistency = a.cfg.Consistency
	}
	req, err := f.request(a.env.IsTerminal)
	if err != nil {
		return err
	}
	if f.important {
		req.Tags = append(req.Tags, cloud.Tag{Key: retention.TagImportant, Value: "true"})
	}
	if req.RetentionDays == 0 {
		// The cloud deletes per-disk snapshots itself a while after
		// retention would have: a backstop should ecssnap stop running.
		req.RetentionDays = a.cfg.Retention.RetentionDays(req.Trigger, f.important)
	}
	out := newRenderer(a.env, f.json, req.Wait)
	res, err := a.runJob(ctx, req, jobOptions{force: f.force, session: f.session, cmdline: strings.Join(os.Args, " ")}, out)
	err = jobInterrupted(ctx, res, err)
	out.result(res, err)
	return err
}

func (f *nowFlags) request(terminal bool) (job.Request, error) {
	if f.wait && f.noWait {
		return job.Request{}, usagef("now: --wait and --no-wait contradict each other")
	}
	if f.retentionDays != 0 && (f.retentionDays < 1 || f.retentionDays > 65536) {
		return job.Request{}, usagef("now: --retention-days must be between 1 and 65536")
	}
	if f.timeout < 0 {
		return job.Request{}, usagef("now: --timeout must be positive")
	}
	if len(f.tags) > 16 {
		return job.Request{}, usagef("now: at most 16 --tag flags (ecssnap's own tags use the rest of the API's 20)")
	}
	if strings.TrimSpace(f.trigger) == "" {
		return job.Request{}, usagef("now: --trigger must not be empty")
	}
	sel, err := plan.ParseSelection(f.disks)
	if err != nil {
		return job.Request{}, usagef("now: %v", err)
	}
	desired, err := job.ParseLevel(f.consistency)
	if err != nil {
		return job.Request{}, usagef("now: --%v", err)
	}
	required, err := job.ParseLevel(f.require)
	if err != nil {
		return job.Request{}, usagef("now: --require: %v", err)
	}
	if desired != job.LevelDefault && desired < required {
		return job.Request{}, usagef("now: --consistency %s is below --require %s", desired, required)
	}
	// Waiting is the default where a person watches; scripts and hooks
	// that want it say --wait.
	wait := f.wait || (terminal && !f.noWait && !f.json)
	req := job.Request{
		Reason: f.reason, Trigger: f.trigger, Disks: sel, Mounts: f.mounts, AllowInconsistent: f.allowInconsistent,
		Consistency: desired, Require: required, Wait: wait && !f.dryRun,
		Timeout: f.timeout, RetentionDays: f.retentionDays, Tags: f.tags, DryRun: f.dryRun,
	}
	// The same check the local API makes: neither path accepts what the
	// other refuses.
	if err := req.Validate(); err != nil {
		return job.Request{}, usagef("now: %v", err)
	}
	return req, nil
}
