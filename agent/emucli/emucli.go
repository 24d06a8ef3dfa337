// Package emucli is the command line of ecssnap-emu, the ECS metadata
// service and API emulator: flags, the ready line, and running until
// signalled.
package emucli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
)

// Exit codes (see DESIGN.md).
const (
	exitOK     = 0
	exitFail   = 1
	exitUsage  = 64
	exitConfig = 78
)

// Ready is the one JSON line printed on stdout once every listener is up.
type Ready struct {
	API             string `json:"api"`
	IMDS            string `json:"imds"`
	Admin           string `json:"admin"`
	AccessKeyID     string `json:"access_key_id"`
	AccessKeySecret string `json:"access_key_secret"`
	InstanceID      string `json:"instance_id"`
	RegionID        string `json:"region_id"`
	CAFile          string `json:"ca_file"`
	// Instances maps every further instance of the scenario to its own
	// metadata service, with --imds-per-instance.
	Instances map[string]string `json:"instances,omitempty"`
	// With --data-dir: the guest view to use as ECSSNAP_ROOT and each
	// attached disk's loop device.
	GuestRoot string            `json:"guest_root,omitempty"`
	Devices   map[string]string `json:"devices,omitempty"`
	// WorkDir holds the job history, socket and freeze journal of the
	// ecssnap the settings point here; removed when the emulator stops.
	WorkDir string `json:"work_dir"`
	PID     int    `json:"pid"`
}

// options are the parsed flags.
type options struct {
	scenario     string
	demo         bool
	server       ecsemu.ServerConfig
	virtualClock bool
	seed         int64
	verbose      bool
	faults       ecsemu.Faults
	faultsSet    map[string]bool
	dataDir      string
	env, detach  bool
	workDir      string
}

const usageText = `usage: ecssnap-emu [flags]

Serves an emulated Alibaba Cloud ECS metadata service and ECS API on
loopback, prints one JSON line with the endpoints and credentials, and runs
until SIGINT or SIGTERM.

flags:
  --scenario FILE       scenario (YAML or JSON); default: the built-in default scenario
  --demo                use the built-in demo scenario (snapshots finish in seconds)
  --api-listen ADDR     API address (default 127.0.0.1:0)
  --imds-listen ADDR    metadata address (default 127.0.0.1:0; 100.100.100.200:80 inside a namespace)
  --admin-listen ADDR   admin API address (default 127.0.0.1:0)
  --imds-per-instance   also serve each further instance's metadata service on a port
                        of its own (the ready line's "instances": ID -> URL)
  --tls                 serve the API over HTTPS with a generated test CA
  --ca-dir DIR          where to write ca.pem with --tls (default: a temporary directory)
  --virtual-clock       cloud time moves only through the admin API (POST /v1/clock/advance)
  --latency DUR[,JITTER]  delay every API call (e.g. 200ms,100ms)
  --throttle-rate R     answer this fraction of calls with throttling
  --rps N               account-level rate limit; excess calls are throttled
  --error-rate R        answer this fraction of calls with 500/503
  --drop-rate R         commit this fraction of calls, then cut the connection
  --imds-outage         start with the metadata service refusing connections
  --bad-answer KIND[,R]  commit this fraction of calls (all by default), then answer
                        truncated JSON, an empty body or a huge body (KIND: truncated,
                        empty, huge)
  --seed N              seed for IDs and fault draws (default: random)
  --data-dir DIR         give the disks bytes (root): images in DIR served through FUSE,
                        attached as loop devices; a guest view for ECSSNAP_ROOT in DIR/guest
                        (SIGHUP rebuilds it, e.g. after mounting btrfs on the disks)
  --verbose             debug logging on stderr
  --env                 print the settings for ecssnap as shell exports instead of JSON
  --detach              run in the background; print once ready and return
  --work-dir DIR        where ecssnap's state goes (default: a new temporary directory,
                        removed when the emulator stops)

Point ecssnap (and any tool using the Alibaba Cloud credential chain) at it:
  eval "$(ecssnap-emu --demo --detach --env)"
  ecssnap disks
  kill "$ECSSNAP_EMU_PID"
`

// Run runs ecssnap-emu with args and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usageText)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "ecssnap-emu: %v (see --help)\n", err)
		return exitUsage
	}
	if opts.detach {
		return detach(args, opts.env, stdout, stderr)
	}
	level := slog.LevelInfo
	if opts.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	sc := ecsemu.DefaultScenario()
	switch {
	case opts.demo:
		sc = ecsemu.DemoScenario()
	case opts.scenario != "":
		if sc, err = ecsemu.LoadScenario(opts.scenario); err != nil {
			fmt.Fprintf(stderr, "ecssnap-emu: %v\n", err)
			return exitConfig
		}
	}
	applyFaultFlags(&sc.Faults, opts)
	if err := sc.Faults.Validate(); err != nil {
		fmt.Fprintf(stderr, "ecssnap-emu: faults: %v (see --help)\n", err)
		return exitUsage
	}
	eopts := ecsemu.Options{Logger: logger, Seed: opts.seed}
	if opts.virtualClock {
		eopts.Clock = ecsemu.NewVirtualClock(time.Now())
	}
	if opts.dataDir != "" {
		plane, err := startDataPlane(opts.dataDir, logger)
		if err != nil {
			fmt.Fprintf(stderr, "ecssnap-emu: --data-dir: %v\n", err)
			return exitFail
		}
		defer func() {
			if err := plane.Close(); err != nil {
				logger.Error("data plane cleanup", "err", err)
			}
		}()
		eopts.DataPlane = plane
	}
	emu, err := ecsemu.New(sc, eopts)
	if err != nil {
		fmt.Fprintf(stderr, "ecssnap-emu: %v\n", err)
		return exitConfig
	}
	var view *guestView
	if eopts.DataPlane != nil {
		if view, err = attachDisks(emu, opts.dataDir); err != nil {
			fmt.Fprintf(stderr, "ecssnap-emu: --data-dir: %v\n", err)
			return exitFail
		}
	}
	srv, err := ecsemu.Listen(emu, opts.server)
	if err != nil {
		fmt.Fprintf(stderr, "ecssnap-emu: %v\n", err)
		return exitFail
	}
	defer srv.Close()

	workDir := opts.workDir
	if workDir == "" {
		if workDir, err = os.MkdirTemp("", "ecssnap-emu-"); err != nil {
			fmt.Fprintf(stderr, "ecssnap-emu: %v\n", err)
			return exitFail
		}
	}
	// The state of the ecssnap pointed here is the emulated instance's:
	// it goes when the emulator does.
	defer os.RemoveAll(workDir)
	ready := Ready{
		API: srv.APIURL, IMDS: srv.IMDSURL, Admin: srv.AdminURL,
		InstanceID: sc.Instance.ID, RegionID: sc.Region, CAFile: srv.CAFile,
		Instances: srv.InstanceIMDSURLs,
		WorkDir:   workDir, PID: os.Getpid(),
	}
	if view != nil {
		ready.GuestRoot, ready.Devices = view.root, view.devices
	}
	if len(sc.AccessKeys) > 0 {
		ready.AccessKeyID, ready.AccessKeySecret = sc.AccessKeys[0].ID, sc.AccessKeys[0].Secret
	}
	if code := printReady(stdout, stderr, ready, opts.env); code != exitOK {
		return code
	}
	if view != nil {
		view.refreshOnHangup(ctx, emu, logger)
	}
	<-ctx.Done()
	logger.Info("shutting down")
	return exitOK
}

func parseFlags(args []string) (*options, error) {
	o := &options{faultsSet: map[string]bool{}}
	fs := flag.NewFlagSet("ecssnap-emu", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.scenario, "scenario", "", "")
	fs.BoolVar(&o.demo, "demo", false, "")
	fs.StringVar(&o.server.APIAddr, "api-listen", "127.0.0.1:0", "")
	fs.StringVar(&o.server.IMDSAddr, "imds-listen", "127.0.0.1:0", "")
	fs.StringVar(&o.server.AdminAddr, "admin-listen", "127.0.0.1:0", "")
	fs.BoolVar(&o.server.InstanceIMDS, "imds-per-instance", false, "")
	fs.BoolVar(&o.server.TLS, "tls", false, "")
	fs.StringVar(&o.server.CADir, "ca-dir", "", "")
	fs.BoolVar(&o.virtualClock, "virtual-clock", false, "")
	fs.Int64Var(&o.seed, "seed", 0, "")
	fs.BoolVar(&o.verbose, "verbose", false, "")
	fs.StringVar(&o.dataDir, "data-dir", "", "")
	fs.BoolVar(&o.env, "env", false, "")
	fs.BoolVar(&o.detach, "detach", false, "")
	fs.StringVar(&o.workDir, "work-dir", "", "")
	fs.Func("latency", "", func(s string) error { return parseLatency(s, &o.faults) })
	fs.Func("throttle-rate", "", rateFlag(&o.faults.ThrottleRate))
	fs.Func("error-rate", "", rateFlag(&o.faults.ErrorRate))
	fs.Func("drop-rate", "", rateFlag(&o.faults.DropRate))
	fs.Func("rps", "", func(s string) error {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("%q is not a positive number", s)
		}
		o.faults.RPS = v
		return nil
	})
	fs.BoolVar(&o.faults.IMDSOutage, "imds-outage", false, "")
	fs.Func("bad-answer", "", func(s string) error {
		kind, rate, hasRate := strings.Cut(s, ",")
		o.faults.BadAnswer, o.faults.BadAnswerRate = kind, 1
		if hasRate {
			if err := rateFlag(&o.faults.BadAnswerRate)(rate); err != nil {
				return err
			}
		}
		return o.faults.Validate()
	})
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.demo && o.scenario != "" {
		return nil, errors.New("--demo and --scenario are exclusive")
	}
	fs.Visit(func(f *flag.Flag) { o.faultsSet[f.Name] = true })
	for name, addr := range map[string]string{"api-listen": o.server.APIAddr, "imds-listen": o.server.IMDSAddr, "admin-listen": o.server.AdminAddr} {
		if err := ecsemu.CheckListenAddr(addr); err != nil {
			return nil, fmt.Errorf("--%s: %w", name, err)
		}
	}
	if o.server.CADir != "" && !o.server.TLS {
		return nil, errors.New("--ca-dir needs --tls")
	}
	return o, nil
}

// applyFaultFlags overrides the scenario's faults with the flags given.
func applyFaultFlags(f *ecsemu.Faults, o *options) {
	set := o.faultsSet
	if set["latency"] {
		f.Latency, f.LatencyJitter = o.faults.Latency, o.faults.LatencyJitter
	}
	if set["throttle-rate"] {
		f.ThrottleRate = o.faults.ThrottleRate
	}
	if set["rps"] {
		f.RPS = o.faults.RPS
	}
	if set["error-rate"] {
		f.ErrorRate = o.faults.ErrorRate
	}
	if set["drop-rate"] {
		f.DropRate = o.faults.DropRate
	}
	if set["imds-outage"] {
		f.IMDSOutage = o.faults.IMDSOutage
	}
	if set["bad-answer"] {
		f.BadAnswer, f.BadAnswerRate = o.faults.BadAnswer, o.faults.BadAnswerRate
	}
}

func parseLatency(s string, f *ecsemu.Faults) error {
	base, jitter, hasJitter := strings.Cut(s, ",")
	d, err := time.ParseDuration(base)
	if err != nil || d < 0 {
		return fmt.Errorf("latency %q is not a duration", base)
	}
	f.Latency = d
	if hasJitter {
		j, err := time.ParseDuration(jitter)
		if err != nil || j < 0 {
			return fmt.Errorf("latency jitter %q is not a duration", jitter)
		}
		f.LatencyJitter = j
	}
	return nil
}

func rateFlag(dst *float64) func(string) error {
	return func(s string) error {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 || v > 1 {
			return fmt.Errorf("%q is not a rate between 0 and 1", s)
		}
		*dst = v
		return nil
	}
}
