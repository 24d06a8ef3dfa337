package ecsemu

import (
	"strings"
	"testing"
)

func TestPercentEncode(t *testing.T) {
	tests := map[string]string{
		"AZaz09-_.~":           "AZaz09-_.~",
		" ":                    "%20",
		"*":                    "%2A",
		"+":                    "%2B",
		"/":                    "%2F",
		"a=b&c":                "a%3Db%26c",
		"2016-02-23T12:46:24Z": "2016-02-23T12%3A46%3A24Z",
		"中":                    "%E4%B8%AD",
		"":                     "",
	}
	for in, want := range tests {
		if got := percentEncode(in); got != want {
			t.Errorf("percentEncode(%q) = %q, want %q", in, got, want)
		}
	}
}

// The worked example of Alibaba Cloud's RPC signature documentation.
func TestSignatureDocumentedExample(t *testing.T) {
	p := map[string]string{
		"Timestamp":        "2016-02-23T12:46:24Z",
		"Format":           "XML",
		"AccessKeyId":      "testid",
		"Action":           "DescribeRegions",
		"SignatureMethod":  "HMAC-SHA1",
		"SignatureNonce":   "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
		"Version":          "2014-05-26",
		"SignatureVersion": "1.0",
	}
	wantSTS := "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML" +
		"%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf" +
		"%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
	if got := StringToSign("GET", p); got != wantSTS {
		t.Errorf("StringToSign:\n got %s\nwant %s", got, wantSTS)
	}
	if got := SignParams("GET", p, "testsecret"); got != "OLeaidS1JvxuMvnyHOwuJ+uX5qY=" {
		t.Errorf("SignParams = %s", got)
	}
}

func TestVerifySignature(t *testing.T) {
	p := map[string]string{"Action": "DescribeDisks", "SignatureType": "", "Tag.1.Value": "a b*c~"}
	p["Signature"] = SignParams("POST", p, "secret")
	tests := []struct {
		name   string
		mutate func(map[string]string) (method, secret string)
		ok     bool
	}{
		{"valid", func(map[string]string) (string, string) { return "POST", "secret" }, true},
		{"wrong secret", func(map[string]string) (string, string) { return "POST", "other" }, false},
		{"other method", func(map[string]string) (string, string) { return "GET", "secret" }, false},
		{"tampered value", func(m map[string]string) (string, string) { m["Tag.1.Value"] = "a b*c"; return "POST", "secret" }, false},
		{"dropped empty parameter", func(m map[string]string) (string, string) { delete(m, "SignatureType"); return "POST", "secret" }, false},
		{"added parameter", func(m map[string]string) (string, string) { m["DiskId"] = "d-1"; return "POST", "secret" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range p {
				m[k] = v
			}
			method, secret := tt.mutate(m)
			ok, sts := verifySignature(method, m, secret)
			if ok != tt.ok {
				t.Errorf("verifySignature = %v, want %v", ok, tt.ok)
			}
			if !strings.HasPrefix(sts, method+"&%2F&") || strings.Contains(sts, "Signature%3D") {
				t.Errorf("string to sign %q", sts)
			}
		})
	}
}

func TestParseParams(t *testing.T) {
	tests := []struct {
		name, query, ctype, body string
		want                     map[string]string
		code                     string
	}{
		{name: "query only", query: "Action=A&Tag.1.Key=a+b", want: map[string]string{"Action": "A", "Tag.1.Key": "a b"}},
		{name: "form body merged", query: "Action=A", ctype: "application/x-www-form-urlencoded; charset=utf-8", body: "DiskId=d-1&Name=%E4%B8%AD",
			want: map[string]string{"Action": "A", "DiskId": "d-1", "Name": "中"}},
		{name: "body without content type", body: "A=1", want: map[string]string{"A": "1"}},
		{name: "JSON body ignored", query: "A=1", ctype: "application/json", body: `{"B":2}`, want: map[string]string{"A": "1"}},
		{name: "empty value kept", query: "SignatureType=&A=1", want: map[string]string{"SignatureType": "", "A": "1"}},
		{name: "duplicate in query", query: "A=1&A=2", code: "InvalidParameter"},
		{name: "duplicate across query and body", query: "A=1", body: "A=1", code: "InvalidParameter"},
		{name: "bad escape", query: "A=%zz", code: "InvalidParameter"},
		{name: "semicolon", query: "A=1;B=2", code: "InvalidParameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, aerr := parseParams(tt.query, tt.ctype, []byte(tt.body))
			if tt.code != "" {
				if aerr == nil || aerr.Code != tt.code {
					t.Fatalf("parseParams = %v, %v; want %s", got, aerr, tt.code)
				}
				return
			}
			if aerr != nil {
				t.Fatalf("parseParams: %v", aerr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}
