// Package config loads ecssnap's configuration: /etc/ecssnap/config.yaml (or
// ECSSNAP_CONFIG), then the ECSSNAP_* environment overrides. Production
// defaults live here and nowhere else.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ecssnap/ecssnap/agent/hook"
	"github.com/ecssnap/ecssnap/pkg/imds"
	"github.com/ecssnap/ecssnap/pkg/plan"
	"github.com/ecssnap/ecssnap/pkg/retention"
)

// Default locations (DESIGN, "Names users see").
const (
	DefaultPath     = "/etc/ecssnap/config.yaml"
	DefaultSocket   = "/run/ecssnap/ecssnap.sock"
	DefaultStateDir = "/var/lib/ecssnap"
	DefaultRoot     = "/"
)

// Config is every setting. YAML keys are snake_case; unknown keys are errors.
type Config struct {
	// MetadataEndpoint is the metadata service's base URL.
	MetadataEndpoint string `yaml:"metadata_endpoint"`
	// MetadataTokenless allows plain GETs when token mode is unavailable.
	MetadataTokenless bool `yaml:"metadata_tokenless_fallback"`
	// APIEndpoint overrides the ECS endpoint (default: the region's VPC
	// endpoint over HTTPS).
	APIEndpoint string `yaml:"api_endpoint"`
	// APIInsecureHTTP allows an http:// APIEndpoint that is not a loopback
	// address: the AccessKeyId, the STS token and every request would
	// cross the network in clear, so it must be asked for by name.
	APIInsecureHTTP bool `yaml:"api_insecure_http"`
	// Root prefixes every /sys, /proc and /dev read.
	Root     string `yaml:"root"`
	Socket   string `yaml:"socket"`
	StateDir string `yaml:"state_dir"`

	// Consistency is the default desired level (crash, fs or app); empty
	// means fs where freezing is possible.
	Consistency string       `yaml:"consistency"`
	API         APIConfig    `yaml:"api"`
	Freeze      FreezeConfig `yaml:"freeze"`
	// Retention prunes managed snapshots; QuotaPerDisk is the manual
	// snapshot quota per disk that eviction keeps room under.
	Retention    retention.Config `yaml:"retention"`
	QuotaPerDisk int              `yaml:"quota_per_disk"`
	// MetricsTextfile is a node_exporter textfile the daemon keeps current
	// ("" for none), e.g. /var/lib/node_exporter/textfile_collector/ecssnap.prom.
	MetricsTextfile string      `yaml:"metrics_textfile"`
	Hooks           HooksConfig `yaml:"hooks"`
	// PackageHooks is what `ecssnap hook <manager>` does when a snapshot
	// fails (fail-closed or fail-open per trigger and attendance), whether
	// it waits for completion, and whether chroots and containers count.
	PackageHooks hook.Policy   `yaml:"package_hooks"`
	GroupLimits  plan.Limits   `yaml:"group_limits"`
	WaitTimeout  time.Duration `yaml:"wait_timeout"`
	// CoalesceWindow: hook requests this soon after a hook job started
	// join it instead of snapshotting again.
	CoalesceWindow time.Duration `yaml:"coalesce_window"`
	// LocalAPI bounds what the local API's callers may ask of the daemon.
	LocalAPI LocalAPIConfig `yaml:"local_api"`
	// JobRecords bounds the finished job records in the state directory.
	JobRecords JobRecordsConfig `yaml:"job_records"`

	// TestDeviceMap maps local devices to disk IDs, bypassing serial
	// matching. It exists so tests can map loop devices to emulator disks
	// and is refused unless TestDeviceMapEnabled is also set.
	TestDeviceMap        map[string]string `yaml:"test_device_map"`
	TestDeviceMapEnabled bool              `yaml:"test_device_map_enabled"`

	// Path is where the configuration was read from ("" when defaults only).
	Path string `yaml:"-"`
}

// APIConfig tunes the ECS client.
type APIConfig struct {
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	ReadTimeout    time.Duration `yaml:"read_timeout"`
	RetryBudget    time.Duration `yaml:"retry_budget"`
	// ThrottleBudget replaces RetryBudget while the API throttles: the
	// account is busy (a fleet sharing its rate limit), nothing is broken.
	// Zero means five times RetryBudget (10 minutes by default).
	ThrottleBudget time.Duration `yaml:"throttle_budget"`
}

// LocalAPIConfig bounds the local API's callers. The rate and the
// per-uid queue apply to every uid but root; QueueMax to everyone.
type LocalAPIConfig struct {
	RatePerUID  float64 `yaml:"rate_per_uid"`  // job and plan requests per second, sustained
	BurstPerUID int     `yaml:"burst_per_uid"` // and at once
	QueuePerUID int     `yaml:"queue_per_uid"` // jobs one uid may have waiting
	QueueMax    int     `yaml:"queue_max"`     // jobs waiting in all
}

// JobRecordsConfig bounds the finished job records kept: at most Keep, none
// older than MaxAge.
type JobRecordsConfig struct {
	Keep   int           `yaml:"keep"`
	MaxAge time.Duration `yaml:"max_age"`
}

// FreezeConfig tunes freezing.
type FreezeConfig struct {
	// Deadline is the longest filesystems stay frozen (capped at 60 s).
	Deadline time.Duration `yaml:"deadline"`
	// Journal records what is frozen; it must be on tmpfs.
	Journal string `yaml:"journal"`
}

// HooksConfig says where the hook scripts are and how long they may run.
type HooksConfig struct {
	Dir           string        `yaml:"dir"`
	ScriptTimeout time.Duration `yaml:"script_timeout"`
	TotalTimeout  time.Duration `yaml:"total_timeout"`
}

// Error is a configuration problem; the CLI exits 78 on it.
type Error struct{ Err error }

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Defaults returns the production configuration.
func Defaults() Config {
	return Config{
		MetadataEndpoint: imds.DefaultEndpoint,
		Root:             DefaultRoot,
		Socket:           DefaultSocket,
		StateDir:         DefaultStateDir,
		GroupLimits:      plan.DefaultLimits,
		WaitTimeout:      time.Hour,
		CoalesceWindow:   10 * time.Minute,
		LocalAPI:         LocalAPIConfig{RatePerUID: 1, BurstPerUID: 10, QueuePerUID: 4, QueueMax: 32},
		JobRecords:       JobRecordsConfig{Keep: 1000, MaxAge: 180 * 24 * time.Hour},
		Retention:        retention.DefaultConfig(),
		QuotaPerDisk:     retention.DefaultManualSnapshotQuota,
		Freeze:           FreezeConfig{Deadline: 10 * time.Second, Journal: "/run/ecssnap/freeze.json"},
		Hooks:            HooksConfig{Dir: "/etc/ecssnap/hooks.d", ScriptTimeout: time.Minute, TotalTimeout: 5 * time.Minute},
		PackageHooks:     hook.DefaultPolicy(),
		API: APIConfig{
			ConnectTimeout: 3 * time.Second,
			ReadTimeout:    10 * time.Second,
			RetryBudget:    2 * time.Minute,
		},
	}
}

// Load reads the file named by ECSSNAP_CONFIG (or the default path, which
// may be absent) and applies the environment overrides. getenv is os.Getenv
// outside tests.
func Load(getenv func(string) string) (Config, error) {
	cfg := Defaults()
	path, explicit := getenv("ECSSNAP_CONFIG"), true
	if path == "" {
		path, explicit = DefaultPath, false
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := parseInto(&cfg, data); err != nil {
			return cfg, &Error{fmt.Errorf("config %s: %w", path, err)}
		}
		cfg.Path = path
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		// No file: production defaults.
	default:
		return cfg, &Error{fmt.Errorf("read config: %w", err)}
	}
	applyEnv(&cfg, getenv)
	return cfg, cfg.validate()
}

func parseInto(cfg *Config, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s", oneLine(err.Error()))
	}
	return nil
}

func applyEnv(cfg *Config, getenv func(string) string) {
	for key, dst := range map[string]*string{
		"ECSSNAP_METADATA_ENDPOINT": &cfg.MetadataEndpoint,
		"ECSSNAP_API_ENDPOINT":      &cfg.APIEndpoint,
		"ECSSNAP_ROOT":              &cfg.Root,
		"ECSSNAP_SOCKET":            &cfg.Socket,
		"ECSSNAP_STATE_DIR":         &cfg.StateDir,
		"ECSSNAP_FREEZE_JOURNAL":    &cfg.Freeze.Journal,
		"ECSSNAP_HOOKS_DIR":         &cfg.Hooks.Dir,
	} {
		if v := getenv(key); v != "" {
			*dst = v
		}
	}
}

func (c Config) validate() error {
	if !strings.HasPrefix(c.MetadataEndpoint, "http://") && !strings.HasPrefix(c.MetadataEndpoint, "https://") {
		return &Error{fmt.Errorf("metadata_endpoint %q must be an http:// or https:// URL", c.MetadataEndpoint)}
	}
	if err := c.checkAPIEndpoint(); err != nil {
		return &Error{err}
	}
	if c.LocalAPI.RatePerUID <= 0 || c.LocalAPI.BurstPerUID < 1 || c.LocalAPI.QueuePerUID < 1 || c.LocalAPI.QueueMax < 1 {
		return &Error{fmt.Errorf("local_api: rate_per_uid must be above 0, burst_per_uid, queue_per_uid and queue_max at least 1")}
	}
	if c.JobRecords.Keep < 1 {
		return &Error{fmt.Errorf("job_records.keep %d must be at least 1", c.JobRecords.Keep)}
	}
	switch c.Consistency {
	case "", "crash", "fs", "app":
	default:
		return &Error{fmt.Errorf("consistency %q: want crash, fs or app", c.Consistency)}
	}
	if err := c.Retention.Validate(); err != nil {
		return &Error{fmt.Errorf("retention: %w", err)}
	}
	if c.QuotaPerDisk < 0 {
		return &Error{fmt.Errorf("quota_per_disk must not be negative")}
	}
	if c.Freeze.Deadline <= 0 || c.Freeze.Deadline > 60*time.Second {
		return &Error{fmt.Errorf("freeze.deadline %s must be between 1s and 60s", c.Freeze.Deadline)}
	}
	if err := c.PackageHooks.Validate(); err != nil {
		return &Error{oneLineErr(err)}
	}
	if c.GroupLimits.MaxDisks < 0 || c.GroupLimits.MaxGiB < 0 {
		return &Error{fmt.Errorf("group_limits must not be negative")}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"wait_timeout", c.WaitTimeout}, {"coalesce_window", c.CoalesceWindow}, {"job_records.max_age", c.JobRecords.MaxAge},
		{"api.connect_timeout", c.API.ConnectTimeout}, {"api.read_timeout", c.API.ReadTimeout},
		{"api.retry_budget", c.API.RetryBudget}, {"api.throttle_budget", c.API.ThrottleBudget},
		{"hooks.script_timeout", c.Hooks.ScriptTimeout}, {"hooks.total_timeout", c.Hooks.TotalTimeout},
	} {
		if d.v < 0 {
			return &Error{fmt.Errorf("%s %s must not be negative", d.key, d.v)}
		}
	}
	return nil
}

// oneLineErr joins a multi-error's lines: configuration errors are
// printed on one line.
func oneLineErr(err error) error {
	return errors.New(oneLine(err.Error()))
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", "; ")
	return strings.TrimPrefix(s, "yaml: ")
}
