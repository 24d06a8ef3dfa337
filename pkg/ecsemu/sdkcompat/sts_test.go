package sdkcompat

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/credentials-go/credentials"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// inNamespaceEnv marks the re-run of the test binary inside a private
// network namespace, where the emulator may take 100.100.100.200.
const inNamespaceEnv = "ECSEMU_SDKCOMPAT_IN_NETNS"

// The STS path as on a real instance: both SDKs with no keys configured
// use their default credential chains, which find the emulated RAM role
// at the hard-coded 100.100.100.200 (token mode enforced), and sign every
// call with the STS key and x-acs-security-token. That address is only
// ever taken inside a fresh network namespace: the test binary re-runs
// itself there (TestSTSInNamespace does the work).
func TestSTSThroughMetadata(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "unshare", "ip")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--net", self, "-test.run=^TestSTSInNamespace$", "-test.v", "-test.count=1")
	cmd.Env = append(cleanEnv(), inNamespaceEnv+"=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in a network namespace: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestSTSInNamespace") {
		t.Fatalf("TestSTSInNamespace did not pass:\n%s", out)
	}
	t.Logf("%s", out)
}

func TestSTSInNamespace(t *testing.T) {
	if os.Getenv(inNamespaceEnv) != "1" {
		t.Skip("runs inside the network namespace TestSTSThroughMetadata creates")
	}
	for _, args := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", ecsemu.MetadataAddress + "/32", "dev", "lo"},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	sc := quickRestore(ecsemu.DefaultScenario())
	sc.Metadata.TokenRequired = true
	env := startTLS(t, ecsemutest.WithScenario(sc),
		ecsemutest.WithServerConfig(ecsemu.ServerConfig{IMDSAddr: ecsemu.MetadataAddress + ":80"}))

	for _, mode := range []string{signV3, signV1} {
		t.Run("Go Tea SDK "+mode, func(t *testing.T) {
			env.Emu.ResetCalls()
			chain, err := credentials.NewCredential(nil)
			if err != nil {
				t.Fatalf("default credential chain: %v", err)
			}
			cfg := teaConfig(t, env, mode)
			cfg.AccessKeyId, cfg.AccessKeySecret = nil, nil
			cfg.Credential = chain
			exerciseEveryAction(t, teaClient(t, cfg), env)
			wantSTSCalls(t, env.Emu.Calls(), mode)
		})
		t.Run("Node.js SDK "+mode, func(t *testing.T) {
			requireNode(t)
			env.Emu.ResetCalls()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out, err := runNode(ctx, nodeDir, nodeEnv{
				endpoint: env.APIHost, caFile: env.CAFile, region: env.RegionID, instance: env.InstanceID,
				signature: mode, credentials: "chain", scenario: "default",
			})
			if err != nil {
				t.Fatalf("node --test: %v\n%s", err, out)
			}
			wantSTSCalls(t, env.Emu.Calls(), mode)
		})
	}
}

// wantSTSCalls checks that every action was answered with success and
// that every call was signed with a key the RAM role issued.
func wantSTSCalls(t *testing.T, calls []ecsemu.Call, sig string) {
	t.Helper()
	wantEveryAction(t, calls, sig)
	for _, c := range calls {
		if !strings.HasPrefix(c.AccessKeyID, "STS.") {
			t.Errorf("%s signed with %q, not an STS key from the metadata service", c.Action, c.AccessKeyID)
		}
	}
	if len(calls) == 0 {
		t.Error("no API calls recorded")
	}
}

// cleanEnv drops credentials, proxies and the emulator variables of the
// outer environment, so only the RAM role can supply credentials.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "ALIBABA_CLOUD_") || strings.HasPrefix(k, "ECSEMU_") ||
			strings.HasSuffix(strings.ToLower(k), "_proxy") || k == "HOME" {
			continue
		}
		out = append(out, kv)
	}
	return out
}
