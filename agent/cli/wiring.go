package cli

import (
	"context"
	"os"
	"strings"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/imds"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/topology"
)

// metadataHost is the address credentials-go reaches the metadata service at;
// it must bypass any HTTP proxy configured for API traffic.
const metadataHost = "100.100.100.200"

func (a *app) metadata() *imds.Client {
	return imds.New(imds.Config{
		Endpoint:       a.cfg.MetadataEndpoint,
		AllowTokenless: a.cfg.MetadataTokenless,
		Logger:         a.logger,
	})
}

func (a *app) newCloud(region string) (*cloud.Client, error) {
	bypassProxyForMetadata(a.env.Getenv)
	return cloud.New(cloud.Config{
		Region:         region,
		Endpoint:       a.cfg.APIEndpoint,
		ConnectTimeout: a.cfg.API.ConnectTimeout,
		ReadTimeout:    a.cfg.API.ReadTimeout,
		Retry:          cloud.RetryPolicy{Budget: a.cfg.API.RetryBudget},
		Logger:         a.logger,
	})
}

// bypassProxyForMetadata adds the metadata address to NO_PROXY when a proxy
// is configured: credentials-go fetches RAM-role credentials from it through
// a transport that honours HTTP_PROXY, and a proxy cannot answer for this
// instance. ECSSNAP_METADATA_VIA_PROXY=1 keeps the proxy (tests and
// emulators that stand in for the metadata service that way).
func bypassProxyForMetadata(getenv func(string) string) {
	if getenv("ECSSNAP_METADATA_VIA_PROXY") == "1" {
		return
	}
	if getenv("HTTP_PROXY") == "" && getenv("http_proxy") == "" {
		return
	}
	for _, key := range []string{"NO_PROXY", "no_proxy"} {
		cur := getenv(key)
		if strings.Contains(cur, metadataHost) {
			continue
		}
		if cur != "" {
			cur += ","
		}
		os.Setenv(key, cur+metadataHost)
	}
}

// engine wires a job engine from the configuration.
func (a *app) engine(emit func(job.Event)) *job.Engine {
	md := a.metadata()
	return &job.Engine{
		Metadata: md,
		Local: job.Local{
			Discover:             topology.New(a.cfg.Root).Discover,
			DiskSerials:          md.DiskSerials,
			DeviceOverrides:      a.cfg.TestDeviceMap,
			AllowDeviceOverrides: a.cfg.TestDeviceMapEnabled,
		},
		NewCloud: func(region string) (job.Cloud, error) {
			return a.newCloud(region)
		},
		Limits:         a.cfg.GroupLimits,
		Now:            a.env.Now,
		Logger:         a.logger,
		Emit:           emit,
		DefaultTimeout: a.cfg.WaitTimeout,
	}
}

// identify returns the instance identity and a cloud client for its region.
func (a *app) identify(ctx context.Context) (imds.Identity, *cloud.Client, error) {
	id, err := a.metadata().Identity(ctx)
	if err != nil {
		return id, nil, err
	}
	cl, err := a.newCloud(id.RegionID)
	return id, cl, err
}
