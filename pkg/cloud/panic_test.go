package cloud

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/credentials-go/credentials/providers"
)

// bodyTransport answers every request with one fixed response.
type bodyTransport struct {
	status int
	body   string
}

func (b bodyTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: b.status, Body: io.NopCloser(strings.NewReader(b.body)),
		Header: http.Header{"Content-Type": {"application/json"}}}, nil
}

type staticSource struct{}

func (staticSource) GetCredentials() (*providers.Credentials, error) {
	return &providers.Credentials{AccessKeyId: "ak", AccessKeySecret: "sk", ProviderName: "test"}, nil
}
func (staticSource) GetProviderName() string { return "test" }

// The SDK's error parser panics on error bodies whose fields are not
// strings; a job must get an error, not a crash.
func TestSDKPanicBecomesError(t *testing.T) {
	cl, err := New(Config{Region: "cn-hangzhou", Endpoint: "http://127.0.0.1:9",
		Credentials: NewCredentials(func() CredentialSource { return staticSource{} }),
		Transport:   bodyTransport{status: 400, body: `{"Code": 17, "Message": ["x"], "RequestId": {}}`},
		Retry:       RetryPolicy{Budget: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.DescribeDisks(context.Background(), "i-1")
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an *APIError", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("not one line: %q", err)
	}
}

type panickingSource struct{}

func (panickingSource) GetCredentials() (*providers.Credentials, error) { panic("no Code in document") }
func (panickingSource) GetProviderName() string                         { return "panicky" }

type failingSource struct{ n *int }

func (f failingSource) GetCredentials() (*providers.Credentials, error) {
	*f.n++
	return nil, errors.New("unable to get credentials from any of the providers in the chain")
}
func (failingSource) GetProviderName() string { return "failing" }

func TestCredentialsAdapter(t *testing.T) {
	c := NewCredentials(func() CredentialSource { return panickingSource{} })
	if _, err := c.GetCredentials(); !errors.Is(err, ErrNoCredentials) || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("panic: err = %v", err)
	}

	// After a total failure the chain is rebuilt, so every provider gets
	// another chance (credentials-go's chain would retry only its last one).
	builds, calls := 0, 0
	c = NewCredentials(func() CredentialSource { builds++; return failingSource{n: &calls} })
	for range 3 {
		if _, err := c.GetCredentials(); !errors.Is(err, ErrNoCredentials) {
			t.Fatalf("err = %v", err)
		}
	}
	if builds != 3 || calls != 3 {
		t.Errorf("%d chains built for 3 failures, want 3", builds)
	}

	c = NewCredentials(func() CredentialSource { return staticSource{} })
	got, err := c.GetCredentials()
	if err != nil || got.AccessKeyId != "ak" || c.Source() != "test" {
		t.Errorf("got %+v, %v, source %q", got, err, c.Source())
	}
}
