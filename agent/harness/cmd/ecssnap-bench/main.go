// Command ecssnap-bench runs ecssnap's benchmarks and prints the table of
// figures against their targets that `make bench` shows (see
// agent/harness/benchtable). Run it from the repository root, inside
// scripts/netns-run.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ecssnap/ecssnap/agent/harness/benchtable"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := benchtable.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
