package sdkcompat

import (
	"testing"

	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
)

// The emulator's V3 canonical form against the SDK's own signer (the
// executable definition): values needing escapes (space, *, ~, /, +, UTF-8,
// JSON), an empty value, a form-body hash, an STS token, a header with
// surrounding spaces, and headers the SDK does not sign.
func TestV3SignatureMatchesSDKSigner(t *testing.T) {
	body := []byte("Description=a+b%2Fc&SnapshotName=x")
	payload := ecsemu.PayloadHash(body)
	query := map[string]string{
		"RegionId": "cn-hangzhou", "DiskIds": `["d-1","d-2"]`, "Description": "a b*c~d/e+f",
		"SnapshotName": "快照-1", "Empty": "", "Tag.1.Key": "k", "Tag.1.Value": "v=1&2",
	}
	headers := map[string]string{
		"host": "127.0.0.1:8443", "x-acs-action": "CreateSnapshot", "x-acs-version": ecsemu.APIVersion,
		"x-acs-date": "2026-12-07T10:00:00Z", "x-acs-signature-nonce": "0f1e2d3c", "x-acs-content-sha256": payload,
		"x-acs-security-token": "CAIStoken", "x-acs-accesskey-id": "STS.key", "x-acs-credentials-provider": " static_sts ",
		"content-type": "application/x-www-form-urlencoded", "user-agent": "not signed", "accept": "application/json",
	}
	req := dara.NewRequest()
	req.Method, req.Pathname = tea.String("POST"), tea.String("/")
	req.Query = map[string]*string{}
	for k, v := range query {
		req.Query[k] = tea.String(v)
	}
	for k, v := range headers {
		req.Headers[k] = tea.String(v)
	}
	const ak, secret = "STS.key", "the-secret"
	want := tea.StringValue(openapiutil.GetAuthorization(req, tea.String(ecsemu.V3Algorithm), tea.String(payload), tea.String(ak), tea.String(secret)))

	emu := ecsemu.V3Request{Method: "POST", Path: "/", Query: query, Headers: map[string][]string{}, PayloadHash: payload}
	for k, v := range headers {
		if k == "host" || k == "content-type" || len(k) > 6 && k[:6] == "x-acs-" {
			emu.SignedHeaders = append(emu.SignedHeaders, k)
			emu.Headers[k] = []string{v}
		}
	}
	if got := emu.Authorization(ak, secret); got != want {
		t.Errorf("Authorization:\n emulator %s\n SDK      %s\ncanonical request:\n%s", got, want, emu.CanonicalRequest())
	}
}
