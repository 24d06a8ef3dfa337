package cloud

import (
	"errors"
	"fmt"
	"sync"

	sdkcreds "github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/credentials-go/credentials/providers"
)

// CredentialSource is what credentials-go's providers offer.
type CredentialSource interface {
	GetCredentials() (*providers.Credentials, error)
	GetProviderName() string
}

// Credentials adapts a credentials-go provider chain to the SDK's provider
// interface, which the SDK consults before every request and every retry.
// credentials-go has no locking of its own, so one mutex serialises access.
// After a total failure the default chain would only ever retry its last
// provider, so a failed chain is replaced by a freshly built one.
type Credentials struct {
	mu       sync.Mutex
	newChain func() CredentialSource
	chain    CredentialSource
	source   string // the provider that produced the last credentials
}

// NewDefaultCredentials uses the credentials-go default chain: environment,
// OIDC, CLI profile, credentials file, ECS RAM role, credentials URI.
func NewDefaultCredentials() *Credentials {
	return NewCredentials(func() CredentialSource { return providers.NewDefaultCredentialsProvider() })
}

// NewCredentials wraps the chain that newChain builds.
func NewCredentials(newChain func() CredentialSource) *Credentials {
	return &Credentials{newChain: newChain}
}

// ErrNoCredentials wraps every failure to obtain credentials.
var ErrNoCredentials = errors.New("no credentials")

// GetCredentials implements the SDK's credentials.CredentialsProvider.
func (c *Credentials) GetCredentials() (cc *sdkcreds.Credentials, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer func() {
		// credentials-go panics on some malformed metadata answers (a
		// credentials document without "Code"); never let that kill a job.
		if r := recover(); r != nil {
			c.chain = nil
			cc, err = nil, fmt.Errorf("%w: credentials provider panicked: %v", ErrNoCredentials, r)
		}
	}()
	if c.chain == nil {
		c.chain = c.newChain()
	}
	got, err := c.chain.GetCredentials()
	if err != nil {
		c.chain = nil
		return nil, noCredentials(err)
	}
	c.source = got.ProviderName
	return &sdkcreds.Credentials{
		AccessKeyId:     got.AccessKeyId,
		AccessKeySecret: got.AccessKeySecret,
		SecurityToken:   got.SecurityToken,
		ProviderName:    got.ProviderName,
	}, nil
}

// GetProviderName implements the SDK's credentials.CredentialsProvider.
func (c *Credentials) GetProviderName() string { return "ecssnap" }

// Source names the provider of the most recent credentials, for doctor and logs.
func (c *Credentials) Source() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.source
}

// Reset drops the cached chain so the next request builds a fresh one: used
// when the API reports an expired security token that the chain still serves.
func (c *Credentials) Reset() {
	c.mu.Lock()
	c.chain = nil
	c.mu.Unlock()
}

// NewStaticCredentials uses one fixed access key (credentials-go's static
// provider): for tools and tests that are handed a key, not for instances,
// which should use their RAM role through NewDefaultCredentials.
func NewStaticCredentials(id, secret string) *Credentials {
	return NewCredentials(func() CredentialSource {
		p, err := providers.NewStaticAKCredentialsProviderBuilder().WithAccessKeyId(id).WithAccessKeySecret(secret).Build()
		if err != nil {
			return failedSource{err}
		}
		return p
	})
}

// failedSource reports why a provider could not be built.
type failedSource struct{ err error }

func (f failedSource) GetCredentials() (*providers.Credentials, error) { return nil, f.err }
func (failedSource) GetProviderName() string                           { return "static" }
