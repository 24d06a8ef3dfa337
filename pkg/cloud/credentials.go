package cloud

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
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
// OIDC, CLI profile, credentials file, ECS RAM role, credentials URI. The
// RAM-role step has the metadata service's production address built in;
// when metadataEndpoint names another (an emulator, a test service), that
// step asks there instead, as through a proxy, so that an agent pointed
// elsewhere never reaches for the real address.
func NewDefaultCredentials(metadataEndpoint string) *Credentials {
	if metadataEndpoint == "" || isProductionMetadata(metadataEndpoint) {
		return NewCredentials(func() CredentialSource { return providers.NewDefaultCredentialsProvider() })
	}
	return NewCredentials(func() CredentialSource { return redirectedChain(metadataEndpoint) })
}

// isProductionMetadata reports whether endpoint is the metadata service's
// own address, http://100.100.100.200.
func isProductionMetadata(endpoint string) bool {
	u, err := url.Parse(endpoint)
	return err == nil && u.Scheme == "http" && (u.Host == metadataHost || u.Host == metadataHost+":80")
}

const metadataHost = "100.100.100.200"

// redirectedChain is the default chain's providers in its order, the
// RAM-role step sending its requests for the built-in address to
// endpoint.
func redirectedChain(endpoint string) CredentialSource {
	var chain providerChain
	add := func(p providers.CredentialsProvider, err error) {
		if err == nil {
			chain.providers = append(chain.providers, p)
		}
	}
	add(providers.NewEnvironmentVariableCredentialsProviderBuilder().Build())
	add(providers.NewOIDCCredentialsProviderBuilder().Build())
	add(providers.NewCLIProfileCredentialsProviderBuilder().Build())
	add(providers.NewProfileCredentialsProviderBuilder().Build())
	add(providers.NewECSRAMRoleCredentialsProviderBuilder().WithHttpOptions(&providers.HttpOptions{Proxy: endpoint}).Build())
	if os.Getenv("ALIBABA_CLOUD_CREDENTIALS_URI") != "" {
		add(providers.NewURLCredentialsProviderBuilder().Build())
	}
	return &chain
}

// providerChain asks its providers in order until one has credentials,
// then keeps to that one, as the default chain does; its error lists
// every provider's, in the default chain's words, for diagnoseCredentials.
type providerChain struct {
	providers []providers.CredentialsProvider
	last      providers.CredentialsProvider
}

func (c *providerChain) GetCredentials() (*providers.Credentials, error) {
	try := c.providers
	if c.last != nil {
		try = []providers.CredentialsProvider{c.last}
	}
	var errs []string
	for _, p := range try {
		cc, err := p.GetCredentials()
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		c.last = p
		name := cc.ProviderName
		if name == "" {
			name = p.GetProviderName()
		}
		return &providers.Credentials{AccessKeyId: cc.AccessKeyId, AccessKeySecret: cc.AccessKeySecret,
			SecurityToken: cc.SecurityToken, ProviderName: c.GetProviderName() + "/" + name}, nil
	}
	return nil, fmt.Errorf("unable to get credentials from any of the providers in the chain: %s", strings.Join(errs, ", "))
}

func (c *providerChain) GetProviderName() string { return "default" }

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
