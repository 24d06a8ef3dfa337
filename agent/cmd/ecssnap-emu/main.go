// Command ecssnap-emu serves an emulated Alibaba Cloud ECS metadata service
// and ECS API on loopback, for tests, the demo and trying ecssnap without
// an account. See agent/emucli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ecssnap/ecssnap/agent/emucli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := emucli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
