package ecsemu

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ServerConfig says where Listen serves the emulator. Empty addresses mean
// "127.0.0.1:0" (a free loopback port).
type ServerConfig struct {
	APIAddr   string
	IMDSAddr  string
	AdminAddr string
	// TLS serves the API over HTTPS with a certificate from a generated
	// test CA, valid for 127.0.0.1, ::1, localhost and the region's
	// ecs.<region>.aliyuncs.com and ecs-vpc.<region>.aliyuncs.com.
	TLS bool
	// CADir is where the CA certificate (ca.pem) is written; empty means a
	// temporary directory removed by Close.
	CADir string
	// InstanceIMDS also serves the metadata service of each further
	// instance of the scenario, on a free loopback port of its own
	// (Server.InstanceIMDSURLs).
	InstanceIMDS bool
}

// Server serves an Emulator on loopback listeners.
type Server struct {
	APIURL   string // http(s)://host:port of the ECS API
	IMDSURL  string // http://host:port of the metadata service
	AdminURL string // http://host:port of the admin API
	CAFile   string // PEM of the test CA with TLS, else ""
	CAPEM    []byte
	// InstanceIMDSURLs maps each further instance of the scenario to its
	// metadata service, with ServerConfig.InstanceIMDS.
	InstanceIMDSURLs map[string]string

	e     *Emulator
	log   *slog.Logger
	api   *http.Server
	admin *http.Server
	imds  *imdsServer
	// instanceIMDS are the further instances' metadata services.
	instanceIMDS []*imdsServer
	unsub        func()
	tmpDir       string
	wg           sync.WaitGroup
	once         sync.Once
}

// CheckListenAddr refuses addresses that are not loopback: nothing the
// emulator serves may be reachable from another machine. 100.100.100.200
// is allowed because it exists only inside a private network namespace.
func CheckListenAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" || host == MetadataAddress {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("listen address %q is not loopback (use 127.0.0.1, ::1, localhost or %s)", addr, MetadataAddress)
}

// Listen serves e's API, metadata and admin handlers.
func Listen(e *Emulator, cfg ServerConfig) (*Server, error) {
	s := &Server{e: e, log: e.log}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	addrs := []*string{&cfg.APIAddr, &cfg.IMDSAddr, &cfg.AdminAddr}
	for _, a := range addrs {
		if *a == "" {
			*a = "127.0.0.1:0"
		}
		if err := CheckListenAddr(*a); err != nil {
			return nil, err
		}
	}
	errLog := slog.NewLogLogger(e.log.Handler(), slog.LevelDebug)

	apiLn, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return nil, fmt.Errorf("listen for API: %w", err)
	}
	s.api = newHTTPServer(e.APIHandler(), errLog)
	scheme := "http"
	if cfg.TLS {
		scheme = "https"
		if err := s.setupTLS(cfg, apiLn); err != nil {
			apiLn.Close()
			return nil, err
		}
		apiLn = tls.NewListener(apiLn, s.api.TLSConfig)
	}
	s.APIURL = scheme + "://" + apiLn.Addr().String()
	s.serve(s.api, apiLn)

	adminLn, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return nil, fmt.Errorf("listen for admin: %w", err)
	}
	s.admin = newHTTPServer(e.AdminHandler(), errLog)
	s.AdminURL = "http://" + adminLn.Addr().String()
	s.serve(s.admin, adminLn)

	s.imds = &imdsServer{handler: e.MetadataHandler(), errLog: errLog, log: e.log}
	if err := s.imds.bind(cfg.IMDSAddr, !e.Faults().IMDSOutage); err != nil {
		return nil, err
	}
	s.IMDSURL = "http://" + s.imds.addr
	if cfg.InstanceIMDS {
		if err := s.listenInstances(errLog); err != nil {
			return nil, err
		}
	}
	// An outage is a closed listener (connection refused); it reopens on
	// the same port when the outage ends.
	s.unsub = e.onFaults(func(f Faults) {
		s.imds.setOutage(f.IMDSOutage)
		for _, m := range s.instanceIMDS {
			m.setOutage(f.IMDSOutage)
		}
	})
	ok = true
	e.log.Info("emulator listening", "api", s.APIURL, "imds", s.IMDSURL, "admin", s.AdminURL)
	return s, nil
}

func newHTTPServer(h http.Handler, errLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          errLog,
		// HTTP/1.1 only: the SDK speaks it, and dropped responses need a
		// hijackable connection.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
}

func (s *Server) serve(srv *http.Server, ln net.Listener) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// setupTLS creates the CA, writes it and configures the API server.
func (s *Server) setupTLS(cfg ServerConfig, ln net.Listener) error {
	ca, err := newTestCA()
	if err != nil {
		return err
	}
	region := s.e.sc.Region
	hosts := []string{"127.0.0.1", "::1", "localhost", "ecs-vpc." + region + ".aliyuncs.com", "ecs." + region + ".aliyuncs.com"}
	if h, _, err := net.SplitHostPort(ln.Addr().String()); err == nil {
		hosts = append(hosts, h)
	}
	cert, err := ca.serverCert(hosts)
	if err != nil {
		return err
	}
	dir := cfg.CADir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "ecsemu-ca-"); err != nil {
			return fmt.Errorf("create CA directory: %w", err)
		}
		s.tmpDir = dir
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create CA directory: %w", err)
	}
	s.CAFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(s.CAFile, ca.certPEM, 0o644); err != nil {
		return fmt.Errorf("write CA certificate: %w", err)
	}
	s.CAPEM = ca.certPEM
	s.api.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return nil
}

// CertPool returns a pool holding the test CA (nil without TLS).
func (s *Server) CertPool() *x509.CertPool {
	if len(s.CAPEM) == 0 {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM)
	return pool
}

// Close stops every listener and removes a temporary CA directory.
func (s *Server) Close() error {
	s.once.Do(func() {
		if s.unsub != nil {
			s.unsub()
		}
		for _, srv := range []*http.Server{s.api, s.admin} {
			if srv != nil {
				srv.Close()
			}
		}
		if s.imds != nil {
			s.imds.close()
		}
		for _, m := range s.instanceIMDS {
			m.close()
		}
		// Calls held by a test that never released them would otherwise
		// block their handler goroutines forever.
		s.e.releaseHolds()
		s.wg.Wait()
		if s.tmpDir != "" {
			os.RemoveAll(s.tmpDir)
		}
	})
	return nil
}
