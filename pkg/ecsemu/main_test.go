package ecsemu_test

import (
	"fmt"
	"os"
	"sync"
	"testing"

	sdkcreds "github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/credentials-go/credentials/providers"
)

// helperEnv selects a helper mode: the test binary re-runs itself to
// exercise credentials-go with a process environment (HTTP_PROXY, HOME) or
// network namespace of its own, since net/http caches proxy settings per
// process.
const helperEnv = "ECSEMU_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := runHelper(mode); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runHelper(mode string) error {
	switch mode {
	case "proxy":
		return helperProxy()
	case "netns":
		return helperNetns()
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

// credentialsAdapter lets the v1 SDK ask a credentials-go provider for
// credentials on every request (the SDK calls it concurrently; credentials-go
// has no locking of its own).
type credentialsAdapter struct {
	mu sync.Mutex
	p  providers.CredentialsProvider
}

func (a *credentialsAdapter) GetCredentials() (*sdkcreds.Credentials, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cc, err := a.p.GetCredentials()
	if err != nil {
		return nil, fmt.Errorf("credentials-go: %w", err)
	}
	return &sdkcreds.Credentials{
		AccessKeyId: cc.AccessKeyId, AccessKeySecret: cc.AccessKeySecret,
		SecurityToken: cc.SecurityToken, ProviderName: cc.ProviderName,
	}, nil
}

func (a *credentialsAdapter) GetProviderName() string {
	return "credentials-go/" + a.p.GetProviderName()
}
