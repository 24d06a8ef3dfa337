// Command ecssnap-fleet simulates a fleet of instances running ecssnap at
// once against one emulated account (make fleet). It only uses loopback.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ecssnap/ecssnap/agent/harness/fleet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := fleet.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
