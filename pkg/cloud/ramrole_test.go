package cloud_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// TestRAMRoleRotation runs in a child process because Go reads HTTP_PROXY
// once per process: credentials-go reaches the hard-coded metadata address
// through HTTP_PROXY, which points at the emulator's metadata listener.
func TestRAMRoleRotation(t *testing.T) {
	runChild(t, "TestRAMRoleRotationChild")
}

func TestRAMRoleRotationChild(t *testing.T) {
	onlyInChild(t)
	env := ecsemutest.Start(t) // the default scenario has a RAM role
	for _, k := range []string{"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN",
		"ALIBABA_CLOUD_ECS_METADATA_DISABLED", "ALIBABA_CLOUD_CREDENTIALS_URI", "NO_PROXY", "no_proxy"} {
		os.Unsetenv(k)
	}
	os.Setenv("HOME", t.TempDir())
	os.Setenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true")
	os.Setenv("HTTP_PROXY", env.IMDSURL) // loopback API calls are never proxied by Go

	cl, err := cloud.New(cloud.Config{Region: env.RegionID, Endpoint: env.APIURL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cl.DescribeDisks(ctx, env.InstanceID); err != nil {
		t.Fatalf("with RAM-role credentials: %v", err)
	}
	first := lastKey(env.Emu)
	if !strings.HasPrefix(cl.Credentials().Source(), "default/") {
		t.Errorf("credentials source = %q", cl.Credentials().Source())
	}

	// The service expires every issued token; credentials-go still holds the
	// old one and believes it valid. The client must refresh and succeed.
	env.Emu.ExpireCredentials()
	if _, err := cl.DescribeDisks(ctx, env.InstanceID); err != nil {
		t.Fatalf("after the STS token expired: %v", err)
	}
	if second := lastKey(env.Emu); second == first || second == "" {
		t.Errorf("access key before %q, after %q: want a fresh STS key", first, second)
	}
}

func lastKey(e *ecsemu.Emulator) string {
	calls := e.Calls()
	if len(calls) == 0 {
		return ""
	}
	return calls[len(calls)-1].Params["AccessKeyId"]
}

// With the metadata service configured elsewhere than its production
// address, the default chain's RAM-role step asks there: credentials-go has
// 100.100.100.200 built in, and an agent pointed at an emulator must never
// reach for it. The child's HTTP_PROXY is a trap that would see any request
// for the built-in address (Go reads HTTP_PROXY once per process, hence the
// child).
func TestRAMRoleAsksTheConfiguredMetadataService(t *testing.T) {
	var trapped atomic.Int32
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trapped.Add(1)
		http.Error(w, "trap: this request was meant for "+r.Host, http.StatusBadGateway)
	}))
	defer trap.Close()
	runChild(t, "TestRAMRoleAsksTheConfiguredMetadataServiceChild", "HTTP_PROXY="+trap.URL, "http_proxy="+trap.URL)
	if n := trapped.Load(); n > 0 {
		t.Fatalf("%d requests went for the built-in metadata address", n)
	}
}

func TestRAMRoleAsksTheConfiguredMetadataServiceChild(t *testing.T) {
	onlyInChild(t)
	env := ecsemutest.Start(t) // the default scenario has a RAM role
	for _, k := range []string{"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN",
		"ALIBABA_CLOUD_ECS_METADATA_DISABLED", "ALIBABA_CLOUD_CREDENTIALS_URI"} {
		os.Unsetenv(k)
	}
	os.Setenv("HOME", t.TempDir())
	os.Setenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true")
	cl, err := cloud.New(cloud.Config{Region: env.RegionID, Endpoint: env.APIURL, MetadataEndpoint: env.IMDSURL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.DescribeDisks(context.Background(), env.InstanceID); err != nil {
		t.Fatalf("with RAM-role credentials from %s: %v", env.IMDSURL, err)
	}
	if src, key := cl.Credentials().Source(), lastKey(env.Emu); src != "default/ecs_ram_role" || !strings.HasPrefix(key, "STS.") {
		t.Errorf("credentials from %q, key %q; want the RAM role's STS key", src, key)
	}
}
