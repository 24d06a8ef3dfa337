package sdkcompat

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// nodeDir holds the Node.js tests and their package-lock.json.
const nodeDir = "node"

// requireNode skips (or fails under CI) unless node is installed and the
// locked packages are in node/node_modules (make sdk-compat runs npm ci).
func requireNode(t *testing.T) {
	t.Helper()
	testenv.RequireTool(t, "node")
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "@alicloud", "ecs20140526")); err != nil {
		testenv.Unavailable(t, "the Node.js SDK is not installed: run `npm ci --ignore-scripts` in pkg/ecsemu/sdkcompat/node (make sdk-compat does)")
	}
}

// nodeEnv is what ecs.test.mjs reads.
type nodeEnv struct {
	endpoint, caFile, ak, secret, region, instance string
	signature, credentials, scenario               string
}

func (n nodeEnv) environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		// Nothing from the outer environment may steer the SDK elsewhere.
		if strings.HasPrefix(k, "ALIBABA_CLOUD_") || strings.HasPrefix(k, "ECSEMU_") || strings.HasSuffix(strings.ToLower(k), "_proxy") {
			continue
		}
		out = append(out, kv)
	}
	return append(out,
		"ECSEMU_ENDPOINT="+n.endpoint, "ECSEMU_CA="+n.caFile, "ECSEMU_AK="+n.ak, "ECSEMU_SECRET="+n.secret,
		"ECSEMU_REGION="+n.region, "ECSEMU_INSTANCE="+n.instance, "ECSEMU_DATA_DISK="+ecsemu.DefaultDataDiskID,
		"ECSEMU_SIGNATURE="+n.signature, "ECSEMU_CREDENTIALS="+n.credentials, "ECSEMU_SCENARIO="+n.scenario,
	)
}

// runNode runs the Node.js tests; it returns their output and error.
func runNode(ctx context.Context, dir string, n nodeEnv) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "node", "--test", "ecs.test.mjs")
	cmd.Dir = dir
	cmd.Env = n.environ()
	return cmd.CombinedOutput()
}

// The official Node.js SDK, V3 (its default) and V1, with long-term keys:
// every action, both paging styles, the error paths; then the emulator's
// call log shows every action it serves answered with success under that
// signature, and no RegionId sent where the API has none.
func TestNodeSDK(t *testing.T) {
	requireNode(t)
	for _, mode := range []string{signV3, signV1} {
		t.Run(mode, func(t *testing.T) {
			env := startTLS(t, ecsemutest.WithScenario(quickRestore(pagingScenario())))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out, err := runNode(ctx, nodeDir, nodeEnv{
				endpoint: env.APIHost, caFile: env.CAFile, ak: env.AccessKeyID, secret: env.AccessKeySecret,
				region: env.RegionID, instance: env.InstanceID, signature: mode, credentials: "keys", scenario: "paging",
			})
			if err != nil {
				t.Fatalf("node --test: %v\n%s", err, out)
			}
			t.Logf("node --test:\n%s", out)
			calls := env.Emu.Calls()
			wantEveryAction(t, calls, mode)
			wantNoRegionID(t, calls, "CreateSnapshot", "DeleteSnapshot", "ModifySnapshotAttribute", "DescribeInstanceAttribute")
		})
	}
}
