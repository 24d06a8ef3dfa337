// Command ecssnap-soak is ecssnap's reliability soak (make soak): the real
// daemon against the emulator under faults and kills, on loop filesystems
// with a writer running. See package soak.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ecssnap/ecssnap/agent/harness/soak"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := soak.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
