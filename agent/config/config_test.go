package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "api_endpoint: http://127.0.0.1:9\nwait_timeout: 5m\ngroup_limits:\n  max_disks: 128\n  max_gib: 262144\napi:\n  retry_budget: 30s\n  throttle_budget: 3m\n")
	empty := write("empty.yaml", "")
	unknown := write("unknown.yaml", "api_endpiont: x\n")
	badType := write("badtype.yaml", "wait_timeout: soon\n")
	badURL := write("badurl.yaml", "metadata_endpoint: 100.100.100.200\n")
	negative := write("negative.yaml", "api:\n  throttle_budget: -1m\n")

	t.Run("file and env", func(t *testing.T) {
		cfg, err := Load(envOf(map[string]string{"ECSSNAP_CONFIG": good, "ECSSNAP_ROOT": "/fixture"}))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.APIEndpoint != "http://127.0.0.1:9" || cfg.WaitTimeout != 5*time.Minute || cfg.GroupLimits.MaxDisks != 128 ||
			cfg.API.RetryBudget != 30*time.Second || cfg.API.ThrottleBudget != 3*time.Minute || cfg.API.ReadTimeout != 10*time.Second || cfg.Root != "/fixture" || cfg.Path != good {
			t.Errorf("cfg = %+v", cfg)
		}
	})
	t.Run("env overrides file", func(t *testing.T) {
		cfg, err := Load(envOf(map[string]string{"ECSSNAP_CONFIG": good, "ECSSNAP_API_ENDPOINT": "http://127.0.0.1:10"}))
		if err != nil || cfg.APIEndpoint != "http://127.0.0.1:10" {
			t.Errorf("cfg.APIEndpoint = %q, err %v", cfg.APIEndpoint, err)
		}
	})
	t.Run("empty file is defaults", func(t *testing.T) {
		cfg, err := Load(envOf(map[string]string{"ECSSNAP_CONFIG": empty}))
		if err != nil || cfg.MetadataEndpoint != "http://100.100.100.200" || cfg.Socket != DefaultSocket {
			t.Errorf("cfg = %+v, err %v", cfg, err)
		}
	})
	for name, tc := range map[string]struct{ path, want string }{
		"unknown key":         {unknown, "api_endpiont"},
		"bad duration":        {badType, "soon"},
		"bad metadata URL":    {badURL, "must be an http:// or https:// URL"},
		"negative duration":   {negative, "api.throttle_budget -1m0s must not be negative"},
		"explicit but absent": {filepath.Join(dir, "absent.yaml"), "absent.yaml"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(envOf(map[string]string{"ECSSNAP_CONFIG": tc.path}))
			var ce *Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want a one-line *config.Error mentioning %q", err, tc.want)
			}
		})
	}
}
