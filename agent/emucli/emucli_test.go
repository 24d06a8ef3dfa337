package emucli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
)

func TestRunUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "flag provided but not defined"},
		{[]string{"--api-listen", "0.0.0.0:8080"}, "not loopback"},
		{[]string{"--imds-listen", "10.1.2.3:80"}, "not loopback"},
		{[]string{"--admin-listen", ":9000"}, "not loopback"},
		{[]string{"--throttle-rate", "2"}, "not a rate"},
		{[]string{"--drop-rate", "x"}, "not a rate"},
		{[]string{"--bad-answer", "garbled"}, `bad_answer "garbled" is not one of`},
		{[]string{"--bad-answer", "empty,2"}, "not a rate"},
		{[]string{"--latency", "fast"}, "not a duration"},
		{[]string{"--latency", "1s,soon"}, "jitter"},
		{[]string{"--rps", "-1"}, "positive number"},
		{[]string{"--seed", "many"}, "invalid value"},
		{[]string{"stray"}, "unexpected argument"},
		{[]string{"--demo", "--scenario", "x.yaml"}, "exclusive"},
		{[]string{"--ca-dir", "/tmp/x"}, "needs --tls"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), tt.args, &stdout, &stderr)
		msg := stderr.String()
		if code != 64 || !strings.Contains(msg, tt.want) || strings.Count(msg, "\n") != 1 || stdout.Len() != 0 {
			t.Errorf("Run(%q) = %d, stderr %q, stdout %q; want 64 and one line mentioning %q", tt.args, code, msg, stdout.String(), tt.want)
		}
	}
}

func TestRunHelpAndBadScenario(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"--help"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "--scenario FILE") {
		t.Errorf("--help = %d, %q", code, stdout.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("region: r\nunknown: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := Run(context.Background(), []string{"--scenario", bad}, &stdout, &stderr); code != 78 || !strings.Contains(stderr.String(), `unknown key "unknown"`) {
		t.Errorf("bad scenario = %d, %q", code, stderr.String())
	}
}

// start runs the emulator until the test ends and returns its ready line.
func start(t *testing.T, args ...string) Ready {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, args, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("Run exited %d", code)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no ready line: %v", err)
	}
	go io.Copy(io.Discard, pr)
	var r Ready
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	return r
}

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRunServesUntilCancelled(t *testing.T) {
	r := start(t, "--demo", "--virtual-clock", "--seed", "7",
		"--latency", "1ms,2ms", "--throttle-rate", "0.25", "--rps", "100", "--error-rate", "0.1", "--drop-rate", "0.05",
		"--bad-answer", "truncated,0.5")
	if r.AccessKeyID != ecsemu.DefaultAccessKeyID || r.AccessKeySecret != ecsemu.DefaultAccessKeySecret ||
		r.InstanceID != ecsemu.DefaultInstanceID || r.RegionID != ecsemu.DefaultRegion || r.CAFile != "" ||
		!strings.HasPrefix(r.API, "http://127.0.0.1:") || !strings.HasPrefix(r.Admin, "http://127.0.0.1:") {
		t.Errorf("ready = %+v", r)
	}
	if status, body := fetch(t, r.IMDS+"/latest/meta-data/instance-id"); status != 200 || body != ecsemu.DefaultInstanceID {
		t.Errorf("metadata: %d %q", status, body)
	}
	var f ecsemu.Faults
	_, body := fetch(t, r.Admin+"/v1/faults")
	if err := json.Unmarshal([]byte(body), &f); err != nil {
		t.Fatal(err)
	}
	want := ecsemu.Faults{Latency: time.Millisecond, LatencyJitter: 2 * time.Millisecond, ThrottleRate: 0.25, RPS: 100, ErrorRate: 0.1, DropRate: 0.05}
	if f.Latency != want.Latency || f.LatencyJitter != want.LatencyJitter || f.ThrottleRate != want.ThrottleRate ||
		f.RPS != want.RPS || f.ErrorRate != want.ErrorRate || f.DropRate != want.DropRate ||
		f.BadAnswer != ecsemu.BadAnswerTruncated || f.BadAnswerRate != 0.5 {
		t.Errorf("faults = %+v, want %+v", f, want)
	}
	if _, body := fetch(t, r.Admin+"/v1/clock"); !strings.Contains(body, `"virtual": true`) {
		t.Errorf("clock = %s", body)
	}
	if _, body := fetch(t, r.Admin+"/v1/state"); !strings.Contains(body, ecsemu.DemoEfficiencyDiskID) {
		t.Errorf("demo scenario not loaded: %s", body)
	}
}

func TestRunTLSAndOutage(t *testing.T) {
	dir := t.TempDir()
	r := start(t, "--tls", "--ca-dir", dir, "--imds-outage")
	if !strings.HasPrefix(r.API, "https://") || r.CAFile != filepath.Join(dir, "ca.pem") {
		t.Errorf("ready = %+v", r)
	}
	if pem, err := os.ReadFile(r.CAFile); err != nil || !bytes.Contains(pem, []byte("BEGIN CERTIFICATE")) {
		t.Errorf("CA file: %v", err)
	}
	_, err := http.Get(r.IMDS + "/latest/meta-data/instance-id")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("metadata during --imds-outage: %v, want connection refused", err)
	}
}

// With --imds-per-instance every further instance of the scenario has a
// metadata service of its own that names that instance, and the main one
// still names the main instance.
func TestRunMetadataPerInstance(t *testing.T) {
	scenario := filepath.Join(t.TempDir(), "fleet.yaml")
	if err := os.WriteFile(scenario, []byte("region: cn-hangzhou\naccess_keys: [{id: ak, secret: sk}]\n"+
		"instance: {id: i-main, zone_id: cn-hangzhou-h}\n"+
		"instances: [{id: i-web1, zone_id: cn-hangzhou-h}, {id: i-web2, zone_id: cn-hangzhou-i}]\n"+
		"disks: [{id: d-main, size_gib: 40, type: system}, {id: d-web1, size_gib: 40, type: system, instance_id: i-web1},"+
		" {id: d-web2, size_gib: 40, type: system, instance_id: i-web2}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := start(t, "--scenario", scenario); r.Instances != nil {
		t.Errorf("without --imds-per-instance: instances = %v", r.Instances)
	}
	r := start(t, "--scenario", scenario, "--imds-per-instance")
	if len(r.Instances) != 2 {
		t.Fatalf("instances = %v, want i-web1 and i-web2", r.Instances)
	}
	for id, zone := range map[string]string{"i-web1": "cn-hangzhou-h", "i-web2": "cn-hangzhou-i"} {
		url, ok := r.Instances[id]
		if !ok || url == r.IMDS {
			t.Errorf("instance %s: metadata %q (main %q)", id, url, r.IMDS)
			continue
		}
		if status, body := fetch(t, url+"/latest/meta-data/instance-id"); status != 200 || body != id {
			t.Errorf("%s: instance-id %d %q", id, status, body)
		}
		if _, body := fetch(t, url+"/latest/meta-data/zone-id"); body != zone {
			t.Errorf("%s: zone-id %q, want %q", id, body, zone)
		}
	}
	if _, body := fetch(t, r.IMDS+"/latest/meta-data/instance-id"); body != "i-main" {
		t.Errorf("main metadata names %q", body)
	}
}
