package sdkcompat

import (
	"strings"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
)

// The gateway's errors as the Tea SDK meets them, for both signatures.
// Stale dates and reused nonces are produced through the SDK's own
// GlobalParameters headers, which override the ones it generates.
func TestTeaGatewayErrors(t *testing.T) {
	for _, mode := range []string{signV3, signV1} {
		t.Run(mode, func(t *testing.T) {
			env := startTLS(t)
			region := tea.String(env.RegionID)
			describe := func(c *ecs.Client) error {
				_, err := c.DescribeDisks(&ecs.DescribeDisksRequest{RegionId: region})
				return err
			}

			t.Run("wrong secret", func(t *testing.T) {
				cfg := teaConfig(t, env, mode)
				cfg.AccessKeySecret = tea.String("not-the-secret")
				err := describe(teaClient(t, cfg))
				wantTeaError(t, err, "SignatureDoesNotMatch", 400)
				if !strings.Contains(err.Error(), "server string to sign is:") {
					t.Errorf("mismatch message lacks the server's string to sign: %v", err)
				}
			})
			t.Run("unknown key", func(t *testing.T) {
				cfg := teaConfig(t, env, mode)
				cfg.AccessKeyId = tea.String("LTAInobody")
				wantTeaError(t, describe(teaClient(t, cfg)), "InvalidAccessKeyId.NotFound", 404)
			})
			t.Run("missing RegionId", func(t *testing.T) {
				_, err := teaClient(t, teaConfig(t, env, mode)).DescribeDisks(&ecs.DescribeDisksRequest{})
				wantTeaError(t, err, "MissingParameter", 400)
			})
			t.Run("other region", func(t *testing.T) {
				_, err := teaClient(t, teaConfig(t, env, mode)).DescribeDisks(&ecs.DescribeDisksRequest{RegionId: tea.String("cn-beijing")})
				wantTeaError(t, err, "InvalidRegionId.NotFound", 404)
			})
			t.Run("missing required parameter", func(t *testing.T) {
				_, err := teaClient(t, teaConfig(t, env, mode)).CreateSnapshot(&ecs.CreateSnapshotRequest{})
				wantTeaError(t, err, "MissingParameter", 400)
				if !strings.Contains(err.Error(), `"DiskId"`) {
					t.Errorf("message does not name DiskId: %v", err)
				}
			})
			if mode == signV3 {
				t.Run("stale date", func(t *testing.T) {
					cfg := teaConfig(t, env, mode)
					old := time.Now().UTC().Add(-20 * time.Minute).Format("2006-01-02T15:04:05Z")
					cfg.GlobalParameters = &openapi.GlobalParameters{Headers: map[string]*string{"x-acs-date": tea.String(old)}}
					wantTeaError(t, describe(teaClient(t, cfg)), "InvalidTimeStamp.Expired", 400)
				})
				t.Run("reused nonce", func(t *testing.T) {
					cfg := teaConfig(t, env, mode)
					cfg.GlobalParameters = &openapi.GlobalParameters{Headers: map[string]*string{"x-acs-signature-nonce": tea.String("tea-fixed-nonce")}}
					c := teaClient(t, cfg)
					if err := describe(c); err != nil {
						t.Fatalf("first call with the nonce: %v", err)
					}
					wantTeaError(t, describe(c), "SignatureNonceUsed", 400)
				})
			} else {
				t.Run("stale date", func(t *testing.T) {
					cfg := teaConfig(t, env, mode)
					old := time.Now().UTC().Add(-20 * time.Minute).Format("2006-01-02T15:04:05Z")
					cfg.GlobalParameters = &openapi.GlobalParameters{Queries: map[string]*string{"Timestamp": tea.String(old)}}
					wantTeaError(t, describe(teaClient(t, cfg)), "InvalidTimeStamp.Expired", 400)
				})
				t.Run("reused nonce", func(t *testing.T) {
					cfg := teaConfig(t, env, mode)
					cfg.GlobalParameters = &openapi.GlobalParameters{Queries: map[string]*string{"SignatureNonce": tea.String("tea-fixed-nonce")}}
					c := teaClient(t, cfg)
					if err := describe(c); err != nil {
						t.Fatalf("first call with the nonce: %v", err)
					}
					wantTeaError(t, describe(c), "SignatureNonceUsed", 400)
				})
			}
			t.Run("unknown action", func(t *testing.T) {
				c := teaClient(t, teaConfig(t, env, mode))
				params := &openapiutil.Params{
					Action: tea.String("DescribeNothing"), Version: tea.String(ecsemu.APIVersion), Protocol: tea.String("HTTPS"),
					Pathname: tea.String("/"), Method: tea.String("POST"), AuthType: tea.String("AK"), Style: tea.String("RPC"),
					ReqBodyType: tea.String("formData"), BodyType: tea.String("json"),
				}
				req := &openapiutil.OpenApiRequest{Query: map[string]*string{"RegionId": region}}
				_, err := c.CallApi(params, req, &dara.RuntimeOptions{})
				wantTeaError(t, err, "InvalidAction.NotFound", 404)
			})
		})
	}
}

// Errors of the actions themselves, and injected throttling, which the SDK
// reports as its own ThrottlingError type (still an SDKError outside).
func TestTeaActionErrors(t *testing.T) {
	env := startTLS(t)
	c := teaClient(t, teaConfig(t, env, signV3))
	region := tea.String(env.RegionID)

	_, err := c.CreateSnapshot(&ecs.CreateSnapshotRequest{DiskId: tea.String("d-nonexistent")})
	wantTeaError(t, err, "InvalidDiskId.NotFound", 404)
	_, err = c.DescribeInstanceAttribute(&ecs.DescribeInstanceAttributeRequest{InstanceId: tea.String("i-nonexistent")})
	wantTeaError(t, err, "InvalidInstanceId.NotFound", 404)
	_, err = c.DeleteSnapshot(&ecs.DeleteSnapshotRequest{SnapshotId: tea.String("s-nonexistent")})
	wantTeaError(t, err, "InvalidSnapshotId.NotFound", 404)
	_, err = c.UntagResources(&ecs.UntagResourcesRequest{
		RegionId: region, ResourceType: tea.String("snapshot"), ResourceId: []*string{tea.String("s-nonexistent")},
		TagKey: []*string{tea.String("k")},
	})
	wantTeaError(t, err, "InvalidResourceId.NotFound", 404)
	_, err = c.ListTagResources(&ecs.ListTagResourcesRequest{RegionId: region, ResourceType: tea.String("bucket")})
	wantTeaError(t, err, "InvalidResourceType.NotFound", 400)
	_, err = c.ListTagResources(&ecs.ListTagResourcesRequest{RegionId: region, ResourceType: tea.String("disk"), NextToken: tea.String("bogus")})
	wantTeaError(t, err, "InvalidNextToken.Malformed", 400)
	_, err = c.DescribeInstanceStatus(&ecs.DescribeInstanceStatusRequest{RegionId: region, PageSize: tea.Int32(51)})
	wantTeaError(t, err, "InvalidParameter", 400)

	if err := env.Emu.SetFaults(ecsemu.Faults{ThrottleRate: 1}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeDisks(&ecs.DescribeDisksRequest{RegionId: region})
	wantTeaError(t, err, "Throttling.User", 400)
	_, err = c.CreateSnapshot(&ecs.CreateSnapshotRequest{DiskId: tea.String(ecsemu.DefaultDataDiskID)})
	wantTeaError(t, err, "Throttling", 403)
	if err := env.Emu.SetFaults(ecsemu.Faults{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeDisks(&ecs.DescribeDisksRequest{RegionId: region})
	if !strings.Contains(err.Error(), "InternalError") && !strings.Contains(err.Error(), "ServiceUnavailable") {
		t.Errorf("with ErrorRate 1: %v", err)
	}
}

// A STS token the emulator never issued, sent by the SDK in
// x-acs-security-token.
func TestTeaSecurityTokenChecked(t *testing.T) {
	env := startTLS(t)
	cred, ok := env.Emu.CurrentCredentials()
	if !ok {
		t.Fatal("default scenario has no RAM role")
	}
	cfg := teaConfig(t, env, signV3)
	cfg.AccessKeyId, cfg.AccessKeySecret = tea.String(cred.AccessKeyID), tea.String(cred.AccessKeySecret)
	cfg.SecurityToken = tea.String(cred.SecurityToken)
	if _, err := teaClient(t, cfg).DescribeDisks(&ecs.DescribeDisksRequest{RegionId: tea.String(env.RegionID)}); err != nil {
		t.Fatalf("with the issued STS token: %v", err)
	}
	cfg.SecurityToken = tea.String("CAISforged")
	_, err := teaClient(t, cfg).DescribeDisks(&ecs.DescribeDisksRequest{RegionId: tea.String(env.RegionID)})
	wantTeaError(t, err, "InvalidSecurityToken.MismatchWithAccessKey", 400)
	env.Emu.ExpireCredentials()
	cfg.SecurityToken = tea.String(cred.SecurityToken)
	_, err = teaClient(t, cfg).DescribeDisks(&ecs.DescribeDisksRequest{RegionId: tea.String(env.RegionID)})
	wantTeaError(t, err, "InvalidSecurityToken.Expired", 400)
}
