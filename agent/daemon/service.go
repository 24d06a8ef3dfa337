package daemon

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/kardianos/service"
)

// UnitFile is the systemd unit the packages install. `ecssnap service
// install` writes the same unit with this binary's path.
//
//go:embed ecssnap.service
var UnitFile string

// ServiceName is the systemd service's name.
const ServiceName = "ecssnap"

// stopTimeout bounds how long a stop waits for the running job's freeze
// window and records; systemd's own TimeoutStopSec is longer.
const stopTimeout = 60 * time.Second

func serviceConfig() *service.Config {
	// kardianos/service renders the unit as a template; only the binary's
	// path changes from the packaged unit.
	unit := strings.Replace(UnitFile, "ExecStart=/usr/bin/ecssnap daemon", "ExecStart={{Path | cmdEscape}} daemon", 1)
	return &service.Config{
		Name:        ServiceName,
		DisplayName: "ecssnap snapshot agent",
		Description: "Takes cloud snapshots of this ECS instance's disks on request.",
		Arguments:   []string{"daemon"},
		Option:      service.KeyValue{"SystemdScript": unit},
	}
}

// program adapts Serve to kardianos/service's Start/Stop.
type program struct {
	run    func(context.Context) error
	cancel context.CancelFunc
	done   chan error
}

func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan error, 1)
	go func() {
		err := p.run(ctx)
		p.done <- err
		if err != nil && ctx.Err() == nil {
			// Serve failed on its own (socket taken, store locked): wake
			// service.Run, which waits for a signal, so the process exits.
			_ = syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
		}
	}()
	return nil
}

func (p *program) Stop(service.Service) error {
	p.cancel()
	select {
	case err := <-p.done:
		return err
	case <-time.After(stopTimeout):
		return errors.New("the daemon did not stop in time")
	}
}

// RunService runs serve as the service until SIGTERM or SIGINT.
func RunService(serve func(context.Context) error) error {
	s, err := service.New(&program{run: serve}, serviceConfig())
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	return s.Run()
}

// Control performs install, uninstall, start, stop or restart.
func Control(action string) error {
	s, err := service.New(&program{}, serviceConfig())
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	if err := service.Control(s, action); err != nil {
		return fmt.Errorf("service %s: %w", action, err)
	}
	return nil
}

// Status reports the service's state: running, stopped or not installed.
func Status() (string, error) {
	s, err := service.New(&program{}, serviceConfig())
	if err != nil {
		return "", fmt.Errorf("service: %w", err)
	}
	st, err := s.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		return "not installed", nil
	case err != nil:
		return "", fmt.Errorf("service status: %w", err)
	case st == service.StatusRunning:
		return "running", nil
	case st == service.StatusStopped:
		return "stopped", nil
	}
	return "unknown", nil
}
