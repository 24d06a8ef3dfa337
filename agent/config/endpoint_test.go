package config

import (
	"errors"
	"strings"
	"testing"
)

// Plain HTTP to the ECS API sends the access key ID and the STS token in
// clear: refused unless the endpoint is loopback (the emulator) or the
// insecure switch is set.
func TestAPIEndpointPlainHTTP(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		insecure bool
		wantErr  bool
	}{
		{"", false, false},
		{"https://ecs.cn-hangzhou.aliyuncs.com", false, false},
		{"ecs.cn-hangzhou.aliyuncs.com", false, false},
		{"http://127.0.0.1:8080", false, false},
		{"http://127.8.9.10:8080", false, false},
		{"http://[::1]:8080", false, false},
		{"http://localhost:8080", false, false},
		{"http://ecs.cn-hangzhou.aliyuncs.com", false, true},
		{"HTTP://10.0.0.5:80", false, true},
		{"http://100.100.100.200", false, true},
		{"http://10.0.0.5:80", true, false},
	} {
		env := map[string]string{"ECSSNAP_API_ENDPOINT": tc.endpoint}
		cfg := Defaults()
		applyEnv(&cfg, envOf(env))
		cfg.APIInsecureHTTP = tc.insecure
		err := cfg.validate()
		var ce *Error
		if tc.wantErr {
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), "api_insecure_http") || !strings.Contains(err.Error(), "in clear") {
				t.Errorf("%s: err = %v, want a config error naming api_insecure_http", tc.endpoint, err)
			}
		} else if err != nil {
			t.Errorf("%s (insecure %v): %v", tc.endpoint, tc.insecure, err)
		}
		if got, _ := cfg.InsecureAPIEndpoint(); got != (tc.wantErr || tc.insecure) {
			t.Errorf("%s: InsecureAPIEndpoint = %v", tc.endpoint, got)
		}
	}
}

func TestLimitsDefaultsAndValidation(t *testing.T) {
	cfg := Defaults()
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.JobRecords.Keep <= 0 || cfg.JobRecords.MaxAge <= 0 || cfg.LocalAPI.QueuePerUID <= 0 || cfg.LocalAPI.RatePerUID <= 0 {
		t.Errorf("defaults leave something unbounded: %+v %+v", cfg.JobRecords, cfg.LocalAPI)
	}
	for _, body := range []string{"job_records: {keep: 0}\n", "local_api: {queue_per_uid: 0}\n", "local_api: {rate_per_uid: -1}\n", "job_records: {max_age: -1h}\n"} {
		c := Defaults()
		if err := parseInto(&c, []byte(body)); err != nil {
			t.Fatal(err)
		}
		if err := c.validate(); err == nil {
			t.Errorf("%q accepted", body)
		}
	}
	c := Defaults()
	if err := parseInto(&c, []byte("job_records: {keep: 50, max_age: 720h}\nlocal_api: {rate_per_uid: 0.5, burst_per_uid: 3, queue_per_uid: 2, queue_max: 8}\n")); err != nil {
		t.Fatal(err)
	}
	if err := c.validate(); err != nil || c.JobRecords.Keep != 50 || c.LocalAPI.BurstPerUID != 3 || c.LocalAPI.RatePerUID != 0.5 {
		t.Errorf("cfg %+v %+v, err %v", c.JobRecords, c.LocalAPI, err)
	}
}
