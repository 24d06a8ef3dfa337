package ecsemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

// FuzzParseRequest feeds arbitrary requests to the parser, the signature
// verifier and, re-signed with a valid key, every action handler. Nothing
// may panic; every answer is a success or the five-string error envelope.
func FuzzParseRequest(f *testing.F) {
	f.Add("POST", "Action=DescribeDisks&RegionId=cn-hangzhou&DiskIds=%5B%22d-1%22%5D", "", []byte(nil))
	f.Add("GET", "Action=CreateSnapshot&DiskId=d-bp1ecssnapdata000001&Tag.1.Key=a&Tag.1.Value=b&RetentionDays=3", "", []byte(nil))
	f.Add("POST", "Action=CreateSnapshotGroup", "application/x-www-form-urlencoded", []byte("InstanceId=i-bp1ecssnapemu0000001&ExcludeDiskId.1=d-x&Name=g1"))
	f.Add("POST", "Action=DescribeSnapshots&MaxResults=2&NextToken=00000000000000010000000000000000", "", []byte(nil))
	f.Add("POST", "Action=DescribeSnapshotGroups&SnapshotGroupId.1=ssg-1&Status.1=failed", "text/plain", []byte("x=1"))
	f.Add("POST", "Action=TagResources&ResourceType=snapshot&ResourceId.1=s-1&Tag.1.Key=k", "", []byte(nil))
	f.Add("POST", "Action=DeleteSnapshot&SnapshotId=s-1&Force=true", "", []byte(nil))
	f.Add("PUT", "A=%zz&A=1;B", "application/x-www-form-urlencoded", []byte("%%%"))
	f.Add("POST", "Action=ListTagResources&ResourceType=disk&Tag.1.Key=team&NextToken=x", "", []byte(nil))
	f.Add("POST", "Action=UntagResources&ResourceType=snapshot&ResourceId.1=s-1&All=true", "", []byte(nil))
	f.Add("POST", "Action=DescribeInstanceStatus&InstanceId.1=i-bp1ecssnapemu0000001&PageSize=50", "", []byte(nil))
	f.Add("POST", "Action=DescribeInstanceAttribute&InstanceId=i-x", "", []byte(nil))

	e, err := New(DefaultScenario(), Options{Clock: NewVirtualClock(time.Now()), Seed: 1})
	if err != nil {
		f.Fatal(err)
	}
	h := e.APIHandler()
	var nonce atomic.Int64

	f.Fuzz(func(t *testing.T, method, rawQuery, contentType string, body []byte) {
		checkAnswer(t, serveRaw(h, method, rawQuery, contentType, body))

		p, aerr := parseParams(rawQuery, contentType, body)
		if aerr != nil {
			if aerr.Status < 400 || aerr.Code == "" {
				t.Fatalf("parse error %+v", aerr)
			}
			return
		}
		p["Signature"] = SignParams(method, p, "fuzz-secret")
		if ok, _ := verifySignature(method, p, "fuzz-secret"); !ok {
			t.Fatalf("a signature does not verify: %v", p)
		}
		if ok, _ := verifySignature(method, p, "other-secret"); ok {
			t.Fatalf("a signature verifies under another secret: %v", p)
		}

		// Re-sign the fuzzed parameters with a valid key so they reach
		// the action handlers.
		for k, v := range map[string]string{
			"AccessKeyId": DefaultAccessKeyID, "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
			"SignatureNonce": fmt.Sprint(nonce.Add(1)), "Timestamp": time.Now().UTC().Format(timestampFormat),
			"Version": APIVersion, "Format": "JSON",
		} {
			p[k] = v
		}
		if p["RegionId"] == "" {
			p["RegionId"] = DefaultRegion
		}
		delete(p, "SecurityToken")
		p["Signature"] = SignParams("POST", p, DefaultAccessKeySecret)
		form := url.Values{}
		for k, v := range p {
			form.Set(k, v)
		}
		rec := serveRaw(h, "POST", "", "application/x-www-form-urlencoded", []byte(form.Encode()))
		checkAnswer(t, rec)
		if rec.Code == http.StatusBadRequest && bytes.Contains(rec.Body.Bytes(), []byte("SignatureDoesNotMatch")) {
			t.Fatalf("re-signed request refused: %s", rec.Body)
		}
	})
}

func serveRaw(h http.Handler, method, rawQuery, contentType string, body []byte) *httptest.ResponseRecorder {
	req := &http.Request{
		Method: method,
		URL:    &url.URL{Path: "/", RawQuery: rawQuery},
		Header: http.Header{},
		Body:   io.NopCloser(bytes.NewReader(body)),
	}
	req = req.WithContext(req.Context())
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %q", rec.Code, rec.Body)
	}
	if _, ok := m["RequestId"].(string); !ok {
		t.Fatalf("no string RequestId: %s", rec.Body)
	}
	if rec.Code == http.StatusOK {
		return
	}
	if len(m) != 5 {
		t.Fatalf("error body has %d fields: %s", len(m), rec.Body)
	}
	for _, k := range []string{"RequestId", "HostId", "Code", "Message", "Recommend"} {
		if _, ok := m[k].(string); !ok {
			t.Fatalf("error field %s is not a string: %s", k, rec.Body)
		}
	}
}
