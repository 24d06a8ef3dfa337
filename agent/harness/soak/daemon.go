package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/ecssnap/ecssnap/pkg/localapi"
)

const (
	// healthyWait bounds one daemon start; startWait bounds the retries
	// (a CLI that found no daemon may hold the job store for a while).
	healthyWait = 15 * time.Second
	startWait   = 3 * time.Minute
	// stopWait is how long SIGTERM gets before SIGKILL; the daemon itself
	// allows a minute for the running job's freeze window and records.
	stopWait = 75 * time.Second
)

// daemon runs the real `ecssnap daemon` binary and kills it.
type daemon struct {
	exe    string
	env    []string
	socket string
	log    io.Writer // the daemons' stderr
	owned  *owned

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
	kills  int
}

// start launches a daemon and waits until it answers on the socket. A
// daemon that exits at once (the job store is held by a CLI that ran its
// job in-process) is started again until startWait runs out.
func (d *daemon) start(ctx context.Context) error {
	deadline := time.Now().Add(startWait)
	var last error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if last = d.startOnce(ctx); last == nil {
			return nil
		}
		time.Sleep(300 * time.Millisecond)
	}
	return fmt.Errorf("the daemon did not come up: %w", errors.Join(last, ctx.Err()))
}

func (d *daemon) startOnce(ctx context.Context) error {
	cmd := exec.Command(d.exe, "daemon")
	cmd.Env = d.env
	cmd.Stdout, cmd.Stderr = d.log, d.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s daemon: %w", d.exe, err)
	}
	d.owned.add(cmd.Process.Pid)
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		d.owned.remove(cmd.Process.Pid)
		close(exited)
	}()
	d.mu.Lock()
	d.cmd, d.exited = cmd, exited
	d.starts++
	d.mu.Unlock()

	client := localapi.NewClient(d.socket)
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(healthyWait)
	for {
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		h, err := client.Health(hctx)
		cancel()
		if err == nil && h.PID == cmd.Process.Pid {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("daemon pid %d exited at start (see the daemon log)", cmd.Process.Pid)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.signal(syscall.SIGKILL)
			<-exited
			return fmt.Errorf("daemon pid %d did not answer within %s: %v", cmd.Process.Pid, healthyWait, err)
		}
	}
}

// kill SIGKILLs the running daemon and reaps it; it reports whether there
// was one to kill.
func (d *daemon) kill() bool {
	if !d.signal(syscall.SIGKILL) {
		return false
	}
	d.wait(0)
	d.mu.Lock()
	d.kills++
	d.mu.Unlock()
	return true
}

// stop asks the daemon to stop (SIGTERM) and kills it if it does not.
func (d *daemon) stop() error {
	if !d.signal(syscall.SIGTERM) {
		return nil
	}
	if d.wait(stopWait) {
		return nil
	}
	d.signal(syscall.SIGKILL)
	d.wait(0)
	return fmt.Errorf("the daemon did not stop within %s of SIGTERM; killed", stopWait)
}

// signal sends sig to the current daemon if it is still running.
func (d *daemon) signal(sig syscall.Signal) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.exited:
		return false
	default:
	}
	return d.cmd.Process.Signal(sig) == nil
}

// wait waits for the current daemon to exit, at most limit (0: forever).
func (d *daemon) wait(limit time.Duration) bool {
	d.mu.Lock()
	exited := d.exited
	d.mu.Unlock()
	if exited == nil {
		return true
	}
	if limit == 0 {
		<-exited
		return true
	}
	select {
	case <-exited:
		return true
	case <-time.After(limit):
		return false
	}
}

// alive reports whether the current daemon process is running.
func (d *daemon) alive() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.exited == nil {
		return false
	}
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

func (d *daemon) counts() (starts, kills int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.starts, d.kills
}
