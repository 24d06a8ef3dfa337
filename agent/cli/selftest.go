package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecssnap/ecssnap/pkg/freeze"
)

func newSelftestCmd(r *runner) *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "selftest [flags]",
		Short: "freeze and thaw throwaway loop filesystems: what this kernel supports",
		Args:  noArgs,
		RunE: r.with(func(ctx context.Context, a *app, _ []string) error {
			return runSelftest(ctx, a, &jsonOut)
		}),
	}
	jsonFlag(cmd, &jsonOut)
	return cmd
}

// runSelftest freezes and thaws throwaway loop filesystems through the same
// helper a job uses, and reports what this kernel supports.
func runSelftest(ctx context.Context, a *app, jsonOut *bool) error {
	// The recovery check kills the helper on purpose; its warnings are
	// expected, so the session's log is not shown. Results carry details.
	rep, err := freeze.SelfTest(ctx, freeze.SelfTestOptions{})
	if errors.Is(err, freeze.ErrNotRoot) {
		return &permissionError{err.Error() + ": run it with sudo"}
	}
	if err != nil {
		return fmt.Errorf("selftest: %w", err)
	}
	if *jsonOut {
		enc := json.NewEncoder(a.env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FILESYSTEM\tRESULT\tHELD\tWRITE BLOCKED\tRECOVERY\tDETAIL")
		for _, r := range rep.Results {
			recovery := "-"
			if r.Recovered != "" {
				recovery = fmt.Sprintf("%s in %s", r.Recovered, r.RecoveryTook.Round(time.Millisecond))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.FSType, r.Status, r.Held.Round(time.Millisecond),
				r.WriteBlocked.Round(time.Millisecond), recovery, dash(r.Detail))
		}
		tw.Flush()
	}
	for _, r := range rep.Results {
		if r.Status == freeze.SelfTestError {
			return fmt.Errorf("selftest: %s: %s", r.FSType, r.Detail)
		}
	}
	return nil
}
