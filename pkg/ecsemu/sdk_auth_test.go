package ecsemu_test

import (
	"crypto/tls"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

func TestAPIAcceptsGETAndFormBodies(t *testing.T) {
	env := ecsemutest.Start(t)
	for _, tc := range []struct{ name, method, where string }{
		{"GET query", "GET", "query"},
		{"POST query", "POST", "query"},
		{"POST form", "POST", "form"},
		{"POST split", "POST", "split"},
	} {
		p := sign(signedParams(env, "DescribeDisks", map[string]string{"DiskType": "system"}), tc.method, env.AccessKeySecret)
		var query, form string
		switch tc.where {
		case "query":
			query = encode(p)
		case "form":
			form = encode(p)
		case "split":
			q := map[string]string{}
			for _, k := range []string{"Action", "Version", "Signature"} {
				q[k] = p[k]
				delete(p, k)
			}
			query, form = encode(q), encode(p)
		}
		status, body := rawCall(t, env, tc.method, query, form)
		if status != 200 {
			t.Errorf("%s: %d %v", tc.name, status, body)
			continue
		}
		if _, ok := body["RequestId"].(string); !ok {
			t.Errorf("%s: no RequestId in %v", tc.name, body)
		}
	}
}

func TestSignatureAndGatewayErrors(t *testing.T) {
	env := ecsemutest.Start(t)
	now := time.Now().UTC()
	tests := []struct {
		name   string
		method string
		build  func() map[string]string
		code   string
		status int
	}{
		{"tampered parameter", "POST", func() map[string]string {
			p := sign(signedParams(env, "DescribeDisks", map[string]string{"DiskType": "system"}), "POST", env.AccessKeySecret)
			p["DiskType"] = "data"
			return p
		}, "SignatureDoesNotMatch", 400},
		{"signed for another method", "GET", func() map[string]string {
			return sign(signedParams(env, "DescribeDisks", nil), "POST", env.AccessKeySecret)
		}, "SignatureDoesNotMatch", 400},
		{"old timestamp", "POST", func() map[string]string {
			p := signedParams(env, "DescribeDisks", map[string]string{"Timestamp": now.Add(-16 * time.Minute).Format("2006-01-02T15:04:05Z")})
			return sign(p, "POST", env.AccessKeySecret)
		}, "InvalidTimeStamp.Expired", 400},
		{"future timestamp", "POST", func() map[string]string {
			p := signedParams(env, "DescribeDisks", map[string]string{"Timestamp": now.Add(16 * time.Minute).Format("2006-01-02T15:04:05Z")})
			return sign(p, "POST", env.AccessKeySecret)
		}, "InvalidTimeStamp.Expired", 400},
		{"timestamp format", "POST", func() map[string]string {
			return sign(signedParams(env, "DescribeDisks", map[string]string{"Timestamp": now.Format(time.RFC1123)}), "POST", env.AccessKeySecret)
		}, "InvalidTimeStamp.Format", 400},
		{"unknown access key", "POST", func() map[string]string {
			return sign(signedParams(env, "DescribeDisks", map[string]string{"AccessKeyId": "LTAInope"}), "POST", "x")
		}, "InvalidAccessKeyId.NotFound", 404},
		{"missing signature", "POST", func() map[string]string { return signedParams(env, "DescribeDisks", nil) }, "MissingParameter", 400},
		{"missing action", "POST", func() map[string]string {
			p := signedParams(env, "DescribeDisks", nil)
			delete(p, "Action")
			return sign(p, "POST", env.AccessKeySecret)
		}, "MissingParameter", 400},
		{"signature method", "POST", func() map[string]string {
			return sign(signedParams(env, "DescribeDisks", map[string]string{"SignatureMethod": "HMAC-SHA256"}), "POST", env.AccessKeySecret)
		}, "InvalidSignatureMethod", 400},
		{"unknown action", "POST", func() map[string]string {
			return sign(signedParams(env, "RebootInstance", nil), "POST", env.AccessKeySecret)
		}, "InvalidAction.NotFound", 404},
		{"other version", "POST", func() map[string]string {
			return sign(signedParams(env, "DescribeDisks", map[string]string{"Version": "2016-03-14"}), "POST", env.AccessKeySecret)
		}, "InvalidAction.NotFound", 404},
		{"other region", "POST", func() map[string]string {
			return sign(signedParams(env, "DescribeDisks", map[string]string{"RegionId": "cn-beijing"}), "POST", env.AccessKeySecret)
		}, "InvalidRegionId.NotFound", 404},
		{"no region", "POST", func() map[string]string {
			p := signedParams(env, "DescribeDisks", nil)
			delete(p, "RegionId")
			return sign(p, "POST", env.AccessKeySecret)
		}, "MissingParameter", 400},
		{"XML", "POST", func() map[string]string {
			return sign(signedParams(env, "DescribeDisks", map[string]string{"Format": "XML"}), "POST", env.AccessKeySecret)
		}, "InvalidParameter.Format", 400},
		{"PUT", "PUT", func() map[string]string {
			return sign(signedParams(env, "DescribeDisks", nil), "PUT", env.AccessKeySecret)
		}, "UnsupportedHTTPMethod", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.build()
			status, body := rawCall(t, env, tt.method, encode(p), "")
			if status != tt.status || body["Code"] != tt.code {
				t.Fatalf("got %d %v, want %d %s", status, body, tt.status, tt.code)
			}
			if tt.code == "SignatureDoesNotMatch" {
				// The message ends with the server's string to sign, exactly.
				want := "server string to sign is:" + ecsemu.StringToSign(tt.method, p)
				if msg, _ := body["Message"].(string); !strings.HasSuffix(msg, want) {
					t.Errorf("message %q does not end with %q", msg, want)
				}
			}
		})
	}
}

func TestNonceReplay(t *testing.T) {
	env := ecsemutest.Start(t)
	q := encode(sign(signedParams(env, "DescribeInstances", nil), "POST", env.AccessKeySecret))
	if status, body := rawCall(t, env, "POST", q, ""); status != 200 {
		t.Fatalf("first: %d %v", status, body)
	}
	status, body := rawCall(t, env, "POST", q, "")
	if status != 400 || body["Code"] != "SignatureNonceUsed" {
		t.Errorf("replay: %d %v", status, body)
	}
	// A forged request does not burn a nonce.
	p := signedParams(env, "DescribeInstances", nil)
	forged := maps.Clone(p)
	forged["Signature"] = "Zm9yZ2Vk"
	if status, _ := rawCall(t, env, "POST", encode(forged), ""); status != 400 {
		t.Fatalf("forged: %d", status)
	}
	if status, body := rawCall(t, env, "POST", encode(sign(p, "POST", env.AccessKeySecret)), ""); status != 200 {
		t.Errorf("nonce of a forged request was burnt: %d %v", status, body)
	}
}

func TestWrongSecretThroughSDK(t *testing.T) {
	env := ecsemutest.Start(t)
	c := env.ECSClientWith(t, credentials.NewAccessKeyCredential(env.AccessKeyID, "not-the-secret"))
	_, err := c.DescribeInstances(ecs.CreateDescribeInstancesRequest())
	se := wantAPIError(t, err, "SignatureDoesNotMatch", http.StatusBadRequest)
	// The SDK compares our string to sign with its own: equal strings mean
	// only the secret differs, which proves the canonical form matches.
	if !strings.HasPrefix(se.Recommend(), "InvalidAccessKeySecret") {
		t.Errorf("Recommend = %q: the server string to sign differs from the SDK's", se.Recommend())
	}
}

func TestSTSCredentialsLifecycle(t *testing.T) {
	clock := ecsemu.NewVirtualClock(time.Now())
	env := ecsemutest.Start(t, ecsemutest.WithClock(clock))
	first, ok := env.Emu.CurrentCredentials()
	if !ok {
		t.Fatal("no RAM role credentials")
	}
	stsClient := func(c ecsemu.STSCredential) *ecs.Client {
		return env.ECSClientWith(t, credentials.NewStsTokenCredential(c.AccessKeyID, c.AccessKeySecret, c.SecurityToken))
	}
	call := func(c *ecs.Client) error {
		_, err := c.DescribeInstances(ecs.CreateDescribeInstancesRequest())
		return err
	}
	if err := call(stsClient(first)); err != nil {
		t.Fatalf("fresh STS credentials refused: %v", err)
	}
	mismatch := first
	mismatch.SecurityToken = "CAISother"
	wantAPIError(t, call(stsClient(mismatch)), "InvalidSecurityToken.MismatchWithAccessKey", 400)
	noToken := env.ECSClientWith(t, credentials.NewAccessKeyCredential(first.AccessKeyID, first.AccessKeySecret))
	wantAPIError(t, call(noToken), "MissingSecurityToken", 400)

	// Rotation: a fresh set appears an hour before expiry; the old one
	// still works until it expires.
	clock.Advance(5*time.Hour + time.Second)
	second, _ := env.Emu.CurrentCredentials()
	if second.AccessKeyID == first.AccessKeyID {
		t.Fatal("credentials not rotated within an hour of expiry")
	}
	if err := call(stsClient(first)); err != nil {
		t.Errorf("old credentials refused before expiry: %v", err)
	}
	clock.Advance(time.Hour)
	wantAPIError(t, call(stsClient(first)), "InvalidSecurityToken.Expired", 400)
	if err := call(stsClient(second)); err != nil {
		t.Errorf("new credentials refused: %v", err)
	}
	env.Emu.ExpireCredentials()
	wantAPIError(t, call(stsClient(second)), "InvalidSecurityToken.Expired", 400)
	third, _ := env.Emu.CurrentCredentials()
	if third.AccessKeyID == second.AccessKeyID || call(stsClient(third)) != nil {
		t.Error("no usable credentials after ExpireCredentials")
	}
}

func TestTimestampAgainstVirtualSigningClock(t *testing.T) {
	clock := ecsemu.NewVirtualClock(time.Now())
	env := ecsemutest.Start(t, ecsemutest.WithClock(clock), ecsemutest.WithSigningClock(clock))
	c := env.ECSClient(t)
	if _, err := c.DescribeInstances(ecs.CreateDescribeInstancesRequest()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	_, err := c.DescribeInstances(ecs.CreateDescribeInstancesRequest())
	wantAPIError(t, err, "InvalidTimeStamp.Expired", 400)
}

func TestTLSAPI(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithTLS())
	if !strings.HasPrefix(env.APIURL, "https://") || env.CAFile == "" {
		t.Fatalf("APIURL %s CAFile %q", env.APIURL, env.CAFile)
	}
	if _, err := env.ECSClient(t).DescribeInstances(ecs.CreateDescribeInstancesRequest()); err != nil {
		t.Fatalf("SDK over HTTPS: %v", err)
	}
	// The certificate also names the production endpoints, for end-to-end
	// tests that resolve them to loopback.
	for name, ok := range map[string]bool{
		"ecs-vpc.cn-hangzhou.aliyuncs.com": true, "ecs.cn-hangzhou.aliyuncs.com": true,
		"localhost": true, "ecs.cn-beijing.aliyuncs.com": false,
	} {
		conn, err := tls.Dial("tcp", env.APIHost, &tls.Config{RootCAs: env.Server.CertPool(), ServerName: name})
		if conn != nil {
			conn.Close()
		}
		if (err == nil) != ok {
			t.Errorf("TLS for %s: %v", name, err)
		}
	}
	if resp, err := http.Get(env.APIURL); err == nil {
		resp.Body.Close()
		t.Error("the test CA is trusted by default clients")
	}
}
