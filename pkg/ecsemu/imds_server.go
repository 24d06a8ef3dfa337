package ecsemu

import (
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
)

// imdsServer serves the metadata handler on one fixed address and can go
// down and come back: during an outage its listener is closed, so clients
// get "connection refused" exactly as on a machine where nothing answers.
type imdsServer struct {
	handler http.Handler
	errLog  *log.Logger
	log     *slog.Logger

	mu     sync.Mutex
	addr   string // fixed after the first bind
	srv    *http.Server
	done   chan struct{} // closed when srv's Serve returns
	closed bool
}

// bind takes the address (learning the port when it is :0) and serves
// unless the emulator starts in an outage.
func (m *imdsServer) bind(addr string, serve bool) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for metadata: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addr = ln.Addr().String()
	if !serve {
		return ln.Close()
	}
	m.start(ln)
	return nil
}

// start serves on ln. Callers hold m.mu.
func (m *imdsServer) start(ln net.Listener) {
	srv := newHTTPServer(m.handler, m.errLog)
	done := make(chan struct{})
	m.srv, m.done = srv, done
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("serve metadata", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// stop closes the listener and every connection. Callers hold m.mu.
func (m *imdsServer) stop() {
	if m.srv == nil {
		return
	}
	m.srv.Close()
	<-m.done
	m.srv = nil
}

// setOutage takes the service down or brings it back on the same address.
func (m *imdsServer) setOutage(outage bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	if outage {
		if m.srv != nil {
			m.log.Info("metadata outage: listener closed", "addr", m.addr)
		}
		m.stop()
		return
	}
	if m.srv != nil {
		return
	}
	// Go listeners set SO_REUSEADDR, so the port can be taken again at
	// once even with connections in TIME_WAIT.
	ln, err := net.Listen("tcp", m.addr)
	if err != nil {
		m.log.Error("metadata outage: cannot reopen listener", "addr", m.addr, "err", err)
		return
	}
	m.log.Info("metadata outage over: listener reopened", "addr", m.addr)
	m.start(ln)
}

func (m *imdsServer) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.stop()
}
