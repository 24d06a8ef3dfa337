package cli

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ecssnap/ecssnap/agent/config"
)

// The command tree is cobra's (the library kubectl, gh and docker use):
// flags go anywhere on the line, errors and help read as users of those
// tools expect, and the shell completions are generated from the same
// definitions (`ecssnap completion SHELL`). Each command's constructor
// only defines its flags; its logic stays in its run function.

// runner builds the app a command runs with, once the command line has
// been parsed: a bad flag or --help never reads the configuration.
type runner struct {
	env Env
}

// runFunc is a command's logic, given its wired app and positional
// arguments.
type runFunc func(ctx context.Context, a *app, args []string) error

// with adapts fn to cobra: it loads the configuration, wires the app,
// thaws what a crashed ecssnap left frozen, and runs fn.
func (r *runner) with(fn runFunc) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		cfg, err := config.Load(r.env.Getenv)
		if err != nil {
			if cmd.Name() == "hook" {
				// A package manager must hear the policy's verdict, not exit 78.
				return &hookExit{code: hookWithoutConfig(ctx, r.env, args, err)}
			}
			return err
		}
		a := &app{env: r.env, cfg: cfg, logger: newLogger(r.env.Stderr, r.env.Getenv("ECSSNAP_LOG_LEVEL"))}
		a.recoverFreeze(ctx)
		if name := cmd.Name(); name != "hook" && name != "rollback" && name != "image" {
			// A restore mount a crash interrupted leaves disks that cost
			// money: every start finishes cleaning them up (hooks must stay
			// fast, and rollback and image run from anywhere).
			a.recoverRestores(ctx)
		}
		return fn(ctx, a, args)
	}
}

func init() {
	// Commands in the order added (now first), not alphabetical. cobra
	// has only a package-level switch for it, set once here.
	cobra.EnableCommandSorting = false
}

// newRootCmd is `ecssnap` and its commands.
func newRootCmd(r *runner) *cobra.Command {
	var version bool
	root := &cobra.Command{
		Use:   "ecssnap",
		Short: "take consistent cloud snapshots of this ECS instance (snapshot-now = ecssnap now)",
		// Help and our own one-line errors instead of cobra's.
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          rootArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if version {
				fmt.Fprintf(r.env.Stdout, "ecssnap %s\n", Version)
				return nil
			}
			cmd.SetOut(r.env.Stderr)
			_ = cmd.Usage()
			return &usageError{msg: "name a command", quiet: true}
		},
	}
	root.Flags().BoolVar(&version, "version", false, "print the version")
	root.SetFlagErrorFunc(flagError)
	// Our completion command also registers snapshot-now.
	root.CompletionOptions.DisableDefaultCmd = true
	root.SuggestionsMinimumDistance = 2
	root.AddCommand(
		newNowCmd(r), newPlanCmd(r), newDisksCmd(r), newListCmd(r), newShowCmd(r),
		newPruneCmd(r), newDoctorCmd(r), newStatusCmd(r), newSelftestCmd(r),
		newMountCmd(r), newUnmountCmd(r), newMountsCmd(r), newRollbackCmd(r), newImageCmd(r),
		newDaemonCmd(r), newServiceCmd(r), newHookCmd(r), newCompletionCmd(),
		&cobra.Command{
			Use: "version", Short: "print the version", Args: noArgs,
			RunE: func(*cobra.Command, []string) error {
				fmt.Fprintf(r.env.Stdout, "ecssnap %s\n", Version)
				return nil
			},
		},
	)
	root.InitDefaultHelpCmd()
	// --help lists the commands people type first, the plumbing last.
	root.AddGroup(
		&cobra.Group{ID: groupSnapshots, Title: "Snapshots:"},
		&cobra.Group{ID: groupRestore, Title: "Restore:"},
		&cobra.Group{ID: groupChecks, Title: "Checks:"},
		&cobra.Group{ID: groupService, Title: "Service and integration:"},
	)
	for _, c := range root.Commands() {
		if c.Name() == "help" {
			c.Short = "help about any command"
		}
		if g, ok := commandGroups[c.Name()]; ok {
			c.GroupID = g
		}
		c.Flags().SortFlags = false
	}
	return root
}

// newFinishCmd is the hidden command ecssnap runs itself (handoff.go),
// a tree of its own: as a hidden command of the root it would still widen
// the command column of --help.
func newFinishCmd(r *runner) *cobra.Command {
	return &cobra.Command{
		Use: finishCommand, Args: noArgs, RunE: r.with(runFinish),
		SilenceErrors: true, SilenceUsage: true,
	}
}

// Command groups of --help.
const (
	groupSnapshots = "snapshots"
	groupRestore   = "restore"
	groupChecks    = "checks"
	groupService   = "service"
)

// commandGroups puts each command in its --help group; the rest (help)
// are listed under "Additional Commands".
var commandGroups = map[string]string{
	"now": groupSnapshots, "plan": groupSnapshots, "disks": groupSnapshots, "list": groupSnapshots,
	"show": groupSnapshots, "prune": groupSnapshots, "status": groupSnapshots,
	"mount": groupRestore, "unmount": groupRestore, "mounts": groupRestore, "rollback": groupRestore, "image": groupRestore,
	"doctor": groupChecks, "selftest": groupChecks, "version": groupChecks,
	"daemon": groupService, "service": groupService, "hook": groupService, "completion": groupService,
}

// rootArgs refuses an unknown command in one line, with cobra's
// suggestion when it has one.
func rootArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return usagef("%s: see 'ecssnap --help'", msg)
}

// flagError makes a flag parsing error one line that names the command and
// where its flags are listed.
func flagError(cmd *cobra.Command, err error) error {
	// pflag's bool flags pass on strconv's message, which names a Go
	// function rather than what the flag takes.
	msg := boolFlagError().ReplaceAllString(err.Error(), "$1: want true or false")
	return usagef("%s: %s (see '%s --help')", cmd.Name(), msg, cmd.CommandPath())
}

var boolFlagError = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(invalid argument ".*" for ".*" flag): strconv\.ParseBool: .*$`)
})

// noArgs refuses positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s: unexpected argument %q (see '%s --help')", cmd.Name(), strings.Join(args, " "), cmd.CommandPath())
	}
	return nil
}

// jsonFlag adds the --json flag most commands have.
func jsonFlag(cmd *cobra.Command, p *bool) {
	cmd.Flags().BoolVar(p, "json", false, "print JSON")
}

// completeWords completes a flag's value from a fixed list.
func completeWords(cmd *cobra.Command, flag string, words ...string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return words, cobra.ShellCompDirectiveNoFileComp
	})
}

// durationFlag is a positive duration whose error shows what one looks
// like (time.ParseDuration's own says only "invalid duration").
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as 90s, 30m or 1h30m")
	}
	if d <= 0 {
		return fmt.Errorf("want a positive duration such as 90s, 30m or 1h30m")
	}
	*f.d = d
	return nil
}

func (f durationFlag) Type() string { return "duration" }

// rangeFlag is a whole number from lo to hi: 0 is refused like any other
// number outside the range, not taken as "unset".
type rangeFlag struct {
	n      *int
	lo, hi int
}

func (f rangeFlag) String() string {
	if f.n == nil || *f.n == 0 {
		return ""
	}
	return strconv.Itoa(*f.n)
}

func (f rangeFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < f.lo || n > f.hi {
		return fmt.Errorf("want a whole number from %d to %d", f.lo, f.hi)
	}
	*f.n = n
	return nil
}

func (f rangeFlag) Type() string { return "int" }

var _ pflag.Value = durationFlag{}
var _ pflag.Value = rangeFlag{}

// completeDisks completes --disks with its keywords (disk IDs would need
// the cloud, which a TAB press should not wait for).
func completeDisks(cmd *cobra.Command) {
	completeWords(cmd, "disks", "all", "system", "data")
}

// completeMounts completes --mount with directories.
func completeMounts(cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc("mount", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return nil, cobra.ShellCompDirectiveFilterDirs
	})
}

// completeJobs completes a job ID from the recorded jobs, newest first.
func (r *runner) completeJobs(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cfg, err := config.Load(r.env.Getenv)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	a := &app{env: r.env, cfg: cfg, logger: newLogger(io.Discard, "")}
	views, err := a.jobViews(cmd.Context(), 50)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ids := make([]string, 0, len(views))
	for _, v := range views {
		ids = append(ids, v.ID+"\t"+v.Created.Local().Format(time.DateTime)+" "+dash(v.Trigger)+" "+string(v.State))
	}
	return ids, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
}
