// Command ecssnap takes cloud snapshots of the ECS instance it runs on.
// Invoked as snapshot-now it behaves as `ecssnap now`.
package main

import (
	"context"
	"os"

	"github.com/ecssnap/ecssnap/agent/cli"
	"github.com/ecssnap/ecssnap/pkg/freeze"
)

func main() {
	// The same binary is the freeze helper and its guard: they must start
	// here, before anything else runs.
	if os.Getenv(freeze.HelperEnv) != "" {
		os.Exit(freeze.RunHelper())
	}
	ctx, stop := cli.SignalContext(context.Background())
	code := cli.Run(ctx, os.Args, cli.OSEnv())
	stop()
	os.Exit(code)
}
