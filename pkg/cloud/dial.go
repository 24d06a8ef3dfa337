package cloud

import (
	"context"
	"net"
	"sync"
	"time"
)

// pinnedDialer resolves each host once and reuses the addresses for a while,
// so a connection opened while filesystems are frozen needs no DNS lookup
// (which may read /etc/hosts and resolv.conf from a frozen root).
type pinnedDialer struct {
	dialer net.Dialer
	ttl    time.Duration

	mu    sync.Mutex
	cache map[string]pinned
}

type pinned struct {
	addrs []string
	at    time.Time
}

func newPinnedDialer(timeout time.Duration) *pinnedDialer {
	return &pinnedDialer{
		dialer: net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second},
		ttl:    5 * time.Minute,
		cache:  map[string]pinned{},
	}
}

// Resolve looks the host of addr up now (preflight) and pins the result.
func (d *pinnedDialer) Resolve(ctx context.Context, addr string) error {
	_, err := d.addrs(ctx, addr)
	return err
}

func (d *pinnedDialer) addrs(ctx context.Context, addr string) ([]string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if net.ParseIP(host) != nil {
		return []string{addr}, nil
	}
	d.mu.Lock()
	p, ok := d.cache[addr]
	d.mu.Unlock()
	if ok && time.Since(p.at) < d.ttl {
		return p.addrs, nil
	}
	ips, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = net.JoinHostPort(ip, port)
	}
	d.mu.Lock()
	d.cache[addr] = pinned{addrs: out, at: time.Now()}
	d.mu.Unlock()
	return out, nil
}

// DialContext dials the pinned addresses in turn.
func (d *pinnedDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	addrs, err := d.addrs(ctx, addr)
	if err != nil {
		return nil, err
	}
	var firstErr error
	for _, a := range addrs {
		conn, err := d.dialer.DialContext(ctx, network, a)
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}
