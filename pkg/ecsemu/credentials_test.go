package ecsemu_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/credentials-go/credentials/providers"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// Long-term keys from the environment, through credentials-go.
func TestCredentialsFromEnvironment(t *testing.T) {
	env := ecsemutest.Start(t)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", env.AccessKeyID)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", env.AccessKeySecret)
	p, err := providers.NewEnvironmentVariableCredentialsProviderBuilder().Build()
	if err != nil {
		t.Fatal(err)
	}
	c := env.ECSClientWith(t, &credentialsAdapter{p: p})
	resp, err := c.DescribeInstances(ecs.CreateDescribeInstancesRequest())
	if err != nil || len(resp.Instances.Instance) != 1 {
		t.Fatalf("DescribeInstances with environment keys: %v", err)
	}
}

// helperCommand re-runs the test binary in a helper mode.
func helperCommand(t *testing.T, mode string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(cleanEnv(), helperEnv+"="+mode, "HOME="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// cleanEnv drops credentials and proxy settings of the outer environment.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "ALIBABA_CLOUD_") || strings.HasSuffix(strings.ToLower(k), "_proxy") || k == "HOME" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// STS credentials from the emulator's metadata service, fetched by
// credentials-go's ECS RAM role provider (which hard-codes 100.100.100.200)
// through HTTP_PROXY pointed at the metadata listener, in token mode.
func TestCredentialsFromMetadataViaProxy(t *testing.T) {
	sc := ecsemu.DefaultScenario()
	sc.Metadata.TokenRequired = true
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	cmd := helperCommand(t, "proxy",
		"HTTP_PROXY="+env.IMDSURL, "NO_PROXY=", "ECSEMU_API_HOST="+env.APIHost, "ECSEMU_REGION="+env.RegionID)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "instance "+ecsemu.DefaultInstanceID) {
		t.Errorf("helper output: %s", out)
	}
	sts, _ := env.Emu.CurrentCredentials()
	var used bool
	for _, c := range env.Emu.Calls() {
		if c.Params["AccessKeyId"] == sts.AccessKeyID && c.Params["SecurityToken"] == sts.SecurityToken && c.Status == 200 {
			used = true
		}
	}
	if !used {
		t.Errorf("the API was not called with the metadata service's STS credentials: %+v", env.Emu.Calls())
	}
}

// helperProxy runs in a child process with HTTP_PROXY set.
func helperProxy() error {
	p, err := providers.NewECSRAMRoleCredentialsProviderBuilder().Build()
	if err != nil {
		return fmt.Errorf("build RAM role provider: %w", err)
	}
	host := os.Getenv("ECSEMU_API_HOST")
	return describeWith(&credentialsAdapter{p: p}, host, os.Getenv("ECSEMU_REGION"))
}

// describeWith calls DescribeInstances through the SDK and prints the
// instance ID.
func describeWith(cred *credentialsAdapter, host, region string) error {
	cc, err := cred.GetCredentials()
	if err != nil {
		return err
	}
	if !strings.HasPrefix(cc.AccessKeyId, "STS.") || cc.SecurityToken == "" {
		return fmt.Errorf("not STS credentials: %q", cc.AccessKeyId)
	}
	client, err := ecs.NewClientWithOptions(region, sdk.NewConfig(), cred)
	if err != nil {
		return fmt.Errorf("new client: %w", err)
	}
	client.Domain = host
	client.SetConnectTimeout(5 * time.Second)
	client.SetReadTimeout(10 * time.Second)
	// HTTP_PROXY serves the metadata service; API calls go direct.
	client.SetNoProxy(strings.ReplaceAll(host, ".", `\.`))
	resp, err := client.DescribeInstances(ecs.CreateDescribeInstancesRequest())
	if err != nil {
		return fmt.Errorf("DescribeInstances: %w", err)
	}
	if len(resp.Instances.Instance) != 1 {
		return fmt.Errorf("%d instances", len(resp.Instances.Instance))
	}
	fmt.Println("instance", resp.Instances.Instance[0].InstanceId)
	return nil
}
