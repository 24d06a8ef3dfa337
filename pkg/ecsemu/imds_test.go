package ecsemu_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// get performs one metadata request and returns status and body.
func get(t *testing.T, c *http.Client, method, u string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestMetadataTree(t *testing.T) {
	env := ecsemutest.Start(t)
	c := env.HTTPClient()
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/", 200, "2016-01-01\nlatest"},
		{"/latest/", 200, "dynamic/\nmeta-data/"},
		{"/latest", 200, "dynamic/\nmeta-data/"},
		{"/latest/meta-data/", 200, "disks/\nhostname\nimage-id\ninstance-id\ninstance/\nowner-account-id\nram/\nregion-id\nserial-number\nzone-id"},
		{"/latest/meta-data/instance-id", 200, ecsemu.DefaultInstanceID},
		{"/2016-01-01/meta-data/instance-id", 200, ecsemu.DefaultInstanceID},
		{"/latest/meta-data/region-id", 200, ecsemu.DefaultRegion},
		{"/latest/meta-data/zone-id", 200, ecsemu.DefaultZone},
		{"/latest/meta-data/instance/", 200, "instance-type"},
		{"/latest/meta-data/instance/instance-type", 200, "ecs.g7.large"},
		{"/latest/meta-data/hostname", 200, "ecssnap-emu"},
		{"/latest/meta-data/image-id", 200, "aliyun_3_x64_20G_alibase_20240528.vhd"},
		{"/latest/meta-data/owner-account-id", 200, ecsemu.DefaultAccountID},
		{"/latest/meta-data/serial-number", 200, "4f2b9a61-7c3e-4d15-9e8a-2b6c0d1e5f37"},
		{"/latest/meta-data/disks/", 200, "bp1ecssnapdata000001/\nbp1ecssnapsys0000001/"},
		{"/latest/meta-data/disks/bp1ecssnapsys0000001/", 200, "id\nname"},
		{"/latest/meta-data/disks/bp1ecssnapsys0000001/id", 200, ecsemu.DefaultSystemDiskID},
		{"/latest/meta-data/disks/bp1ecssnapdata000001/name", 200, "data"},
		{"/latest/meta-data/ram/", 200, "security-credentials/"},
		{"/latest/meta-data/ram/security-credentials/", 200, ecsemu.DefaultRoleName},
		{"/latest/dynamic/", 200, "instance-identity/"},
		{"/latest/meta-data/instance-type", 404, "Not Found"},
		{"/latest/meta-data/instance-id/", 404, "Not Found"},
		{"/latest/meta-data/disks/nope/id", 404, "Not Found"},
		{"/latest/meta-data/ram/security-credentials/OtherRole", 404, "Not Found"},
		{"/v9/meta-data/instance-id", 404, "Not Found"},
	}
	for _, tt := range tests {
		status, body := get(t, c, "GET", env.IMDSURL+tt.path, nil)
		if status != tt.status || body != tt.body {
			t.Errorf("GET %s = %d %q, want %d %q", tt.path, status, body, tt.status, tt.body)
		}
	}
	if status, _ := get(t, c, "POST", env.IMDSURL+"/latest/meta-data/instance-id", nil); status != 405 {
		t.Errorf("POST = %d, want 405", status)
	}
}

func TestMetadataJSONLeaves(t *testing.T) {
	env := ecsemutest.Start(t)
	c := env.HTTPClient()
	status, body := get(t, c, "GET", env.IMDSURL+"/latest/meta-data/ram/security-credentials/"+ecsemu.DefaultRoleName, nil)
	if status != 200 {
		t.Fatalf("credentials: %d %s", status, body)
	}
	var creds map[string]any
	if err := json.Unmarshal([]byte(body), &creds); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"AccessKeyId", "AccessKeySecret", "Expiration", "SecurityToken", "LastUpdated", "Code"} {
		if _, ok := creds[k].(string); !ok {
			t.Errorf("credentials field %s = %#v, want a string", k, creds[k])
		}
	}
	if creds["Code"] != "Success" {
		t.Errorf("Code = %v", creds["Code"])
	}
	exp, err := time.Parse("2006-01-02T15:04:05Z", creds["Expiration"].(string))
	if err != nil {
		t.Fatalf("Expiration: %v", err)
	}
	if d := time.Until(exp); d < 5*time.Hour || d > 6*time.Hour+time.Minute {
		t.Errorf("Expiration in %v, want about 6h", d)
	}

	status, body = get(t, c, "GET", env.IMDSURL+"/latest/dynamic/instance-identity/document", nil)
	var doc map[string]string
	if status != 200 || json.Unmarshal([]byte(body), &doc) != nil {
		t.Fatalf("document: %d %s", status, body)
	}
	if doc["instance-id"] != ecsemu.DefaultInstanceID || doc["region-id"] != ecsemu.DefaultRegion || doc["zone-id"] != ecsemu.DefaultZone {
		t.Errorf("document = %v", doc)
	}
}

func TestMetadataTokenMode(t *testing.T) {
	clock := ecsemu.NewVirtualClock(time.Now())
	sc := ecsemu.DefaultScenario()
	env := ecsemutest.Start(t, ecsemutest.WithClock(clock), ecsemutest.WithScenario(sc))
	c := env.HTTPClient()
	tokenURL := env.IMDSURL + "/latest/api/token"
	leaf := env.IMDSURL + "/latest/meta-data/instance-id"
	ttl := ecsemu.MetadataTokenTTLHeader
	tok := ecsemu.MetadataTokenHeader

	for _, v := range []string{"", "0", "21601", "-5", "six"} {
		if status, _ := get(t, c, "PUT", tokenURL, map[string]string{ttl: v}); status != 400 {
			t.Errorf("PUT token with TTL %q = %d, want 400", v, status)
		}
	}
	status, token := get(t, c, "PUT", tokenURL, map[string]string{ttl: "60"})
	if status != 200 || token == "" {
		t.Fatalf("PUT token = %d %q", status, token)
	}
	if status, _ := get(t, c, "PUT", tokenURL, map[string]string{ttl: "21600"}); status != 200 {
		t.Errorf("PUT token with TTL 21600 = %d", status)
	}
	if status, _ := get(t, c, "GET", tokenURL, nil); status != 405 {
		t.Errorf("GET token = %d, want 405", status)
	}
	tests := []struct {
		name   string
		method string
		url    string
		hdr    map[string]string
		status int
	}{
		{"valid token", "GET", leaf, map[string]string{tok: token}, 200},
		{"tokenless allowed by default", "GET", leaf, nil, 200},
		{"bad token", "GET", leaf, map[string]string{tok: "forged"}, 401},
		{"forwarded GET", "GET", leaf, map[string]string{tok: token, "X-Forwarded-For": "10.0.0.1"}, 403},
		{"forwarded PUT", "PUT", tokenURL, map[string]string{ttl: "60", "X-Forwarded-For": "10.0.0.1"}, 403},
	}
	for _, tt := range tests {
		if status, body := get(t, c, tt.method, tt.url, tt.hdr); status != tt.status {
			t.Errorf("%s: %d %q, want %d", tt.name, status, body, tt.status)
		}
	}
	clock.Advance(61 * time.Second)
	if status, _ := get(t, c, "GET", leaf, map[string]string{tok: token}); status != 401 {
		t.Errorf("expired token = %d, want 401", status)
	}
	_, token = get(t, c, "PUT", tokenURL, map[string]string{ttl: "60"})
	env.Emu.ExpireMetadataTokens()
	if status, _ := get(t, c, "GET", leaf, map[string]string{tok: token}); status != 401 {
		t.Errorf("token after ExpireMetadataTokens = %d, want 401", status)
	}
}

func TestMetadataTokenRequiredAndDisabled(t *testing.T) {
	sc := ecsemu.DefaultScenario()
	sc.Metadata.TokenRequired = true
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	c := env.HTTPClient()
	leaf := env.IMDSURL + "/latest/meta-data/instance-id"
	if status, _ := get(t, c, "GET", leaf, nil); status != 403 {
		t.Errorf("tokenless GET with tokens required = %d, want 403", status)
	}
	_, token := get(t, c, "PUT", env.IMDSURL+"/latest/api/token", map[string]string{ecsemu.MetadataTokenTTLHeader: "30"})
	if status, body := get(t, c, "GET", leaf, map[string]string{ecsemu.MetadataTokenHeader: token}); status != 200 || body != ecsemu.DefaultInstanceID {
		t.Errorf("GET with token = %d %q", status, body)
	}

	sc = ecsemu.DefaultScenario()
	sc.Metadata.Disabled = true
	env = ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	if status, _ := get(t, c, "PUT", env.IMDSURL+"/latest/api/token", map[string]string{ecsemu.MetadataTokenTTLHeader: "30"}); status != 403 {
		t.Errorf("PUT token on a disabled endpoint = %d, want 403", status)
	}
}

func TestMetadataOutageRefusesConnections(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithFaults(ecsemu.Faults{IMDSOutage: true}))
	c := env.HTTPClient()
	leaf := env.IMDSURL + "/latest/meta-data/instance-id"
	refused := func() bool {
		resp, err := c.Get(leaf)
		if err == nil {
			resp.Body.Close()
			return false
		}
		return errors.Is(err, syscall.ECONNREFUSED)
	}
	if !refused() {
		t.Fatal("metadata reachable while starting in an outage")
	}
	if err := env.Emu.SetFaults(ecsemu.Faults{}); err != nil {
		t.Fatal(err)
	}
	if status, body := get(t, c, "GET", leaf, nil); status != 200 || body != ecsemu.DefaultInstanceID {
		t.Fatalf("after the outage: %d %q", status, body)
	}
	if err := env.Emu.SetFaults(ecsemu.Faults{IMDSOutage: true}); err != nil {
		t.Fatal(err)
	}
	if !refused() {
		t.Error("metadata reachable during an outage")
	}
	_ = env.Emu.SetFaults(ecsemu.Faults{})
	if status, _ := get(t, c, "GET", leaf, nil); status != 200 {
		t.Errorf("not back on the same port after the second outage: %d", status)
	}
}

func TestMetadataLatency(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithFaults(ecsemu.Faults{IMDSLatency: time.Minute}))
	c := &http.Client{Timeout: 100 * time.Millisecond}
	_, err := c.Get(env.IMDSURL + "/latest/meta-data/instance-id")
	var ue *url.Error
	if !errors.As(err, &ue) || !ue.Timeout() {
		t.Errorf("slow metadata: err = %v, want a client timeout", err)
	}
}

func TestMetadataAsProxy(t *testing.T) {
	env := ecsemutest.Start(t)
	proxy, _ := url.Parse(env.IMDSURL)
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}
	status, body := get(t, c, "GET", "http://100.100.100.200/latest/meta-data/instance-id", nil)
	if status != 200 || body != ecsemu.DefaultInstanceID {
		t.Errorf("via proxy: %d %q", status, body)
	}
	if status, _ := get(t, c, "GET", "http://100.100.100.200:80/latest/meta-data/region-id", nil); status != 200 {
		t.Errorf("via proxy with :80: %d", status)
	}
	// Other hosts are refused by the proxy itself; nothing is forwarded.
	if status, body := get(t, c, "GET", "http://example.com/", nil); status != 502 || !strings.Contains(body, "100.100.100.200") {
		t.Errorf("other host via proxy: %d %q", status, body)
	}
}
