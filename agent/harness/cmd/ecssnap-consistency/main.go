// Command ecssnap-consistency is the consistency experiment (make
// consistency). See package consistency.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ecssnap/ecssnap/agent/harness/consistency"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := consistency.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
