package sdkcompat

import (
	"errors"
	"os"
	"slices"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// Signing modes of the Tea SDK: its default (signature V3) and
// SignatureAlgorithm "v2", with which it signs RPC calls the V1 way.
const (
	signV3 = "v3"
	signV1 = "v1"
)

// startTLS starts an emulator serving the API over HTTPS (the Tea SDK's
// default protocol) with a test CA.
func startTLS(t *testing.T, opts ...ecsemutest.Option) *ecsemutest.Env {
	t.Helper()
	return ecsemutest.Start(t, append([]ecsemutest.Option{ecsemutest.WithTLS(), ecsemutest.WithSeed(1)}, opts...)...)
}

// teaConfig is the configuration a user would write: keys, the endpoint
// and the CA to trust; everything else stays at the SDK's defaults
// (HTTPS, signature V3, no retries).
func teaConfig(t *testing.T, env *ecsemutest.Env, mode string) *openapi.Config {
	t.Helper()
	ca, err := os.ReadFile(env.CAFile)
	if err != nil {
		t.Fatalf("read test CA: %v", err)
	}
	cfg := &openapi.Config{
		AccessKeyId:     tea.String(env.AccessKeyID),
		AccessKeySecret: tea.String(env.AccessKeySecret),
		Endpoint:        tea.String(env.APIHost),
		RegionId:        tea.String(env.RegionID),
		Ca:              tea.String(string(ca)),
	}
	if mode == signV1 {
		cfg.SignatureAlgorithm = tea.String("v2")
	}
	return cfg
}

func teaClient(t *testing.T, cfg *openapi.Config) *ecs.Client {
	t.Helper()
	c, err := ecs.NewClient(cfg)
	if err != nil {
		t.Fatalf("ecs.NewClient: %v", err)
	}
	return c
}

// wantTeaError checks that err is the SDK's error for an API answer with
// code and HTTP status.
func wantTeaError(t *testing.T, err error, code string, status int) {
	t.Helper()
	var se *tea.SDKError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want an SDKError %s", err, err, code)
	}
	if tea.StringValue(se.Code) != code || tea.IntValue(se.StatusCode) != status {
		t.Fatalf("got %d %s (%s), want %d %s", tea.IntValue(se.StatusCode), tea.StringValue(se.Code),
			tea.StringValue(se.Message), status, code)
	}
}

// wantEveryAction checks that the emulator answered every action it
// serves with success at least once, signed as sig.
func wantEveryAction(t *testing.T, calls []ecsemu.Call, sig string) {
	t.Helper()
	ok := map[string]bool{}
	for _, c := range calls {
		if c.Status == 200 && c.Signature == sig {
			ok[c.Action] = true
		}
	}
	for _, a := range ecsemu.Actions() {
		if !ok[a] {
			t.Errorf("no successful %s call signed %s", a, sig)
		}
	}
}

// wantNoRegionID checks that no call of the given actions carried RegionId:
// the SDK sends none where the API has none, and the emulator accepted them.
func wantNoRegionID(t *testing.T, calls []ecsemu.Call, actions ...string) {
	t.Helper()
	for _, c := range calls {
		if slices.Contains(actions, c.Action) && c.Status == 200 {
			if _, has := c.Params["RegionId"]; has {
				t.Errorf("%s carried RegionId; the official SDK sends none", c.Action)
			}
		}
	}
}
