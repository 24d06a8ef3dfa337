package ecsemu

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// FuzzV3Request feeds arbitrary Authorization headers, signed-header lists,
// queries and bodies to the V3 gateway: nothing may panic and every answer
// is a success or the five-string error envelope. The same query and body,
// correctly signed by V3Request, must never fail the signature check.
func FuzzV3Request(f *testing.F) {
	f.Add("ACS3-HMAC-SHA256 Credential=LTAI,SignedHeaders=host;x-acs-date,Signature=00", "DescribeDisks", "RegionId=cn-hangzhou", []byte(nil))
	f.Add("ACS3-HMAC-SHA256", "CreateSnapshot", "DiskId=d-bp1ecssnapdata000001&Tag.1.Key=a", []byte("Description=x+y"))
	f.Add("ACS3-HMAC-SM3 Credential=,SignedHeaders=,Signature=", "ListTagResources", "ResourceType=disk&NextToken=zz", []byte("%%%"))
	f.Add("", "DescribeInstanceAttribute", "InstanceId=i-bp1ecssnapemu0000001&RegionId=nowhere", []byte(nil))

	e, err := New(DefaultScenario(), Options{Clock: NewVirtualClock(time.Now()), Seed: 1})
	if err != nil {
		f.Fatal(err)
	}
	h := e.APIHandler()
	var nonce atomic.Int64

	f.Fuzz(func(t *testing.T, authz, action, rawQuery string, body []byte) {
		send := func(hdr http.Header) *httptest.ResponseRecorder {
			req := &http.Request{Method: "POST", Host: "127.0.0.1:1", URL: &url.URL{Path: "/", RawQuery: rawQuery},
				Header: hdr, Body: io.NopCloser(bytes.NewReader(body))}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			checkAnswer(t, rec)
			return rec
		}
		hdr := http.Header{}
		hdr.Set("x-acs-action", action)
		hdr.Set("x-acs-version", APIVersion)
		hdr.Set("x-acs-date", time.Now().UTC().Format(timestampFormat))
		hdr.Set("x-acs-signature-nonce", "f"+strings.Repeat("0", int(nonce.Add(1)%7)))
		hdr.Set("x-acs-content-sha256", PayloadHash(body))
		hdr.Set("Content-Type", "application/x-www-form-urlencoded")
		hdr.Set("Authorization", authz)
		send(hdr)

		query, aerr := parseParams(rawQuery, "", nil)
		if aerr != nil {
			return
		}
		hdr.Set("x-acs-signature-nonce", "good-"+time.Now().Format(time.RFC3339Nano)+"-"+string(rune('a'+nonce.Add(1)%26)))
		r := V3Request{Method: "POST", Path: "/", Query: query, Headers: map[string][]string{"host": {"127.0.0.1:1"}}, PayloadHash: PayloadHash(body)}
		for name, vals := range hdr {
			if n := strings.ToLower(name); strings.HasPrefix(n, "x-acs-") || n == "content-type" {
				r.Headers[n], r.SignedHeaders = vals, append(r.SignedHeaders, n)
			}
		}
		r.SignedHeaders = append(r.SignedHeaders, "host")
		hdr.Set("Authorization", r.Authorization(DefaultAccessKeyID, DefaultAccessKeySecret))
		if rec := send(hdr); bytes.Contains(rec.Body.Bytes(), []byte("SignatureDoesNotMatch")) {
			t.Fatalf("a correctly signed V3 request was refused: %s", rec.Body)
		}
	})
}
