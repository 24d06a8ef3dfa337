package ecsemu_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// v3Call is a hand-signed signature V3 request; mutate hooks let a case
// break one thing after (or before) signing.
type v3Call struct {
	action string
	query  map[string]string
	form   string
	date   time.Time
	nonce  string
	token  string
	ak     string
	secret string
	// signed overrides the header names signed (default: host, content-type
	// if sent, every x-acs-*).
	signed []string
	// beforeSign and afterSign edit the request headers around signing.
	beforeSign, afterSign func(h http.Header)
	// authz replaces the Authorization header when set.
	authz string
	// sendBody replaces the body sent (after it was hashed and signed).
	sendBody *string
}

func (c v3Call) do(t *testing.T, env *ecsemutest.Env) (int, map[string]any) {
	t.Helper()
	if c.ak == "" {
		c.ak, c.secret = env.AccessKeyID, env.AccessKeySecret
	}
	if c.date.IsZero() {
		c.date = time.Now()
	}
	if c.nonce == "" {
		c.nonce = randomNonce()
	}
	q := url.Values{}
	for k, v := range c.query {
		q.Set(k, v)
	}
	u, _ := url.Parse(env.APIURL + "/?" + q.Encode())
	h := http.Header{}
	h.Set("x-acs-action", c.action)
	h.Set("x-acs-version", ecsemu.APIVersion)
	h.Set("x-acs-date", c.date.UTC().Format("2006-01-02T15:04:05Z"))
	h.Set("x-acs-signature-nonce", c.nonce)
	h.Set("x-acs-content-sha256", ecsemu.PayloadHash([]byte(c.form)))
	if c.form != "" {
		h.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.token != "" {
		h.Set("x-acs-security-token", c.token)
	}
	if c.beforeSign != nil {
		c.beforeSign(h)
	}
	r := ecsemu.V3Request{Method: "POST", Path: "/", Query: c.query, Headers: map[string][]string{"host": {u.Host}},
		PayloadHash: ecsemu.PayloadHash([]byte(c.form)), SignedHeaders: c.signed}
	for name, vals := range h {
		n := strings.ToLower(name)
		r.Headers[n] = vals
		if c.signed == nil && (strings.HasPrefix(n, "x-acs-") || n == "content-type") {
			r.SignedHeaders = append(r.SignedHeaders, n)
		}
	}
	if c.signed == nil {
		r.SignedHeaders = append(r.SignedHeaders, "host")
	}
	h.Set("Authorization", r.Authorization(c.ak, c.secret))
	if c.authz != "" {
		h.Set("Authorization", c.authz)
	}
	if c.afterSign != nil {
		c.afterSign(h)
	}
	body := c.form
	if c.sendBody != nil {
		body = *c.sendBody
	}
	req, err := http.NewRequest("POST", u.String(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := env.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, rawJSON(t, string(b))
}

func TestSignatureV3(t *testing.T) {
	env := ecsemutest.Start(t)
	region := map[string]string{"RegionId": env.RegionID}
	cred, _ := env.Emu.CurrentCredentials()
	tampered := "RegionId=cn-beijing"
	tests := []struct {
		name   string
		call   v3Call
		code   string
		status int
	}{
		{"query parameters", v3Call{action: "DescribeDisks", query: region}, "", 200},
		{"form body parameters", v3Call{action: "DescribeDisks", form: "RegionId=" + env.RegionID + "&DiskType=system"}, "", 200},
		{"no RegionId where the API has none", v3Call{action: "DescribeInstanceAttribute", query: map[string]string{"InstanceId": env.InstanceID}}, "", 200},
		{"STS token", v3Call{action: "DescribeDisks", query: region, ak: cred.AccessKeyID, secret: cred.AccessKeySecret, token: cred.SecurityToken}, "", 200},
		{"extra signed header", v3Call{action: "DescribeDisks", query: region, beforeSign: func(h http.Header) {
			h.Set("x-acs-credentials-provider", "static_ak")
		}}, "", 200},
		{"wrong secret", v3Call{action: "DescribeDisks", query: region, ak: env.AccessKeyID, secret: "wrong"}, "SignatureDoesNotMatch", 400},
		{"action changed after signing", v3Call{action: "DescribeDisks", query: region, afterSign: func(h http.Header) {
			h.Set("x-acs-action", "DescribeInstances")
		}}, "SignatureDoesNotMatch", 400},
		{"body changed after signing", v3Call{action: "DescribeDisks", form: "RegionId=" + env.RegionID, sendBody: &tampered}, "SignatureDoesNotMatch", 400},
		{"stale date", v3Call{action: "DescribeDisks", query: region, date: time.Now().Add(-16 * time.Minute)}, "InvalidTimeStamp.Expired", 400},
		{"future date", v3Call{action: "DescribeDisks", query: region, date: time.Now().Add(16 * time.Minute)}, "InvalidTimeStamp.Expired", 400},
		{"bad date", v3Call{action: "DescribeDisks", query: region, afterSign: func(h http.Header) { h.Set("x-acs-date", "yesterday") }}, "InvalidTimeStamp.Format", 400},
		{"unknown action", v3Call{action: "DescribeNothing", query: region}, "InvalidAction.NotFound", 404},
		{"unknown key", v3Call{action: "DescribeDisks", query: region, ak: "LTAInobody", secret: "x"}, "InvalidAccessKeyId.NotFound", 404},
		{"STS key without token", v3Call{action: "DescribeDisks", query: region, ak: cred.AccessKeyID, secret: cred.AccessKeySecret}, "MissingSecurityToken", 400},
		{"token unsigned", v3Call{action: "DescribeDisks", query: region, ak: cred.AccessKeyID, secret: cred.AccessKeySecret, token: cred.SecurityToken,
			signed: []string{"host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"}}, "IncompleteSignature", 400},
		{"action unsigned", v3Call{action: "DescribeDisks", query: region,
			signed: []string{"host", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"}}, "IncompleteSignature", 400},
		{"no Authorization", v3Call{action: "DescribeDisks", query: region, afterSign: func(h http.Header) { h.Del("Authorization") }}, "IncompleteSignature", 400},
		{"malformed Authorization", v3Call{action: "DescribeDisks", query: region, authz: "ACS3-HMAC-SHA256 Credential=" + env.AccessKeyID}, "IncompleteSignature", 400},
		{"other algorithm", v3Call{action: "DescribeDisks", query: region, authz: "ACS3-HMAC-SM3 Credential=" + env.AccessKeyID + ",SignedHeaders=host,Signature=00"}, "InvalidSignatureMethod", 400},
		{"missing content hash", v3Call{action: "DescribeDisks", query: region, afterSign: func(h http.Header) { h.Del("x-acs-content-sha256") }}, "MissingParameter", 400},
		{"missing RegionId", v3Call{action: "DescribeDisks"}, "MissingParameter", 400},
		{"missing required parameter", v3Call{action: "CreateSnapshot"}, "MissingParameter", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := tc.call.do(t, env)
			if status != tc.status || (tc.code != "" && body["Code"] != tc.code) {
				t.Fatalf("got %d %v, want %d %s", status, body, tc.status, tc.code)
			}
			if tc.code == "SignatureDoesNotMatch" && !strings.Contains(body["Message"].(string), "server string to sign is:ACS3-HMAC-SHA256\n") {
				t.Errorf("message does not carry the server's string to sign: %q", body["Message"])
			}
		})
	}
}

// A V3 nonce is refused the second time, and only after the signature
// checked out (a forged request cannot burn it).
func TestSignatureV3NonceReplay(t *testing.T) {
	env := ecsemutest.Start(t)
	region := map[string]string{"RegionId": env.RegionID}
	forged := v3Call{action: "DescribeDisks", query: region, nonce: "v3-nonce", secret: "wrong", ak: env.AccessKeyID}
	if status, body := forged.do(t, env); status != 400 || body["Code"] != "SignatureDoesNotMatch" {
		t.Fatalf("forged: %d %v", status, body)
	}
	call := v3Call{action: "DescribeDisks", query: region, nonce: "v3-nonce"}
	if status, body := call.do(t, env); status != 200 {
		t.Fatalf("first use: %d %v", status, body)
	}
	if status, body := call.do(t, env); status != 400 || body["Code"] != "SignatureNonceUsed" {
		t.Fatalf("replay: %d %v", status, body)
	}
	calls := env.Emu.Calls()
	if last := calls[len(calls)-1]; last.Signature != "v3" || last.Action != "DescribeDisks" {
		t.Errorf("call log records %q signed %q, want DescribeDisks signed v3", last.Action, last.Signature)
	}
}
