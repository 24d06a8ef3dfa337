package cloud_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

const ramRoleChild = "ECSSNAP_TEST_RAMROLE_CHILD"

// TestRAMRoleRotation runs in a child process because Go reads HTTP_PROXY
// once per process: credentials-go reaches the hard-coded metadata address
// through HTTP_PROXY, which points at the emulator's metadata listener.
func TestRAMRoleRotation(t *testing.T) {
	if os.Getenv(ramRoleChild) == "1" {
		t.Skip("parent-only test")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestRAMRoleRotationChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), ramRoleChild+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestRAMRoleRotationChild") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestRAMRoleRotationChild(t *testing.T) {
	if os.Getenv(ramRoleChild) != "1" {
		t.Skip("runs only as TestRAMRoleRotation's child")
	}
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
