package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/ecssnap/ecssnap/agent/config"
	"github.com/ecssnap/ecssnap/agent/daemon"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
	"github.com/ecssnap/ecssnap/pkg/store"
)

func newDaemonCmd(r *runner) *cobra.Command {
	return &cobra.Command{
		Use:   "daemon",
		Short: "run as the service (systemd starts it)",
		Args:  noArgs,
		RunE:  r.with(runDaemon),
	}
}

func newServiceCmd(r *runner) *cobra.Command {
	return &cobra.Command{
		Use:       "service install|uninstall|start|stop|restart|status",
		Short:     "install|uninstall|start|stop|restart|status the service",
		ValidArgs: []string{"install", "uninstall", "start", "stop", "restart", "status"},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("service: want one of install, uninstall, start, stop, restart, status")
			}
			return nil
		},
		RunE: r.with(runService),
	}
}

// runDaemon runs the service in the foreground (systemd starts it so).
func runDaemon(ctx context.Context, a *app, _ []string) error {
	a.logger = daemonLogger(a.env.Stderr, a.env.Getenv("ECSSNAP_LOG_LEVEL"))
	a.keep.on = true
	opts := daemon.Options{
		Socket: a.cfg.Socket, StateDir: a.cfg.StateDir, JournalPath: a.cfg.Freeze.Journal,
		Engine: a.engine, Window: a.cfg.CoalesceWindow, MetricsTextfile: a.cfg.MetricsTextfile, Version: Version, Logger: a.logger,
		Getenv: a.env.Getenv, Now: a.env.Now,
		Limits:     daemon.QueueLimits{Max: a.cfg.LocalAPI.QueueMax, PerUID: a.cfg.LocalAPI.QueuePerUID},
		RateLimit:  localapi.RateLimit{Rate: a.cfg.LocalAPI.RatePerUID, Burst: a.cfg.LocalAPI.BurstPerUID},
		JobRecords: store.Retention{Keep: a.cfg.JobRecords.Keep, MaxAge: a.cfg.JobRecords.MaxAge},
		View:       a.viewOptions(),
		Prune: func(ctx context.Context) (int, error) {
			rep, err := a.prune(ctx, false)
			if err == nil {
				err = rep.Err()
			}
			return len(rep.Deleted), err
		},
		Reload: func() (func(func(job.Event)) *job.Engine, error) {
			cfg, err := config.Load(a.env.Getenv)
			if err != nil {
				return nil, err
			}
			next := &app{env: a.env, cfg: cfg, logger: a.logger}
			next.keep.on = true
			return next.engine, nil
		},
	}
	return daemon.RunService(func(ctx context.Context) error { return daemon.Serve(ctx, opts) })
}

// runService installs, removes, starts, stops or reports the service.
func runService(_ context.Context, a *app, args []string) error {
	switch action := args[0]; action {
	case "status":
		st, err := daemon.Status()
		if err != nil {
			return err
		}
		fmt.Fprintf(a.env.Stdout, "ecssnap.service: %s\n", st)
		return nil
	case "install", "uninstall", "start", "stop", "restart":
		if err := daemon.Control(action); err != nil {
			return err
		}
		fmt.Fprintf(a.env.Stdout, "ecssnap.service: %s done\n", action)
		return nil
	default:
		return usagef("service: unknown action %q: want install, uninstall, start, stop, restart or status", action)
	}
}

// daemonLogger is the service's logger: info and above by default (or the
// level ECSSNAP_LOG_LEVEL names), because the service's info lines are its
// audit trail (every mutation of the local API with the caller's uid, pid
// and command line, every job's end, every hook script's output) and go to
// the journal, not to a person's terminal.
func daemonLogger(w io.Writer, level string) *slog.Logger {
	if level == "" {
		level = "info"
	}
	return newLogger(w, level)
}
