package ecsemu_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// startVirtual starts an emulator on a virtual clock (requests are still
// signed and checked against the wall clock).
func startVirtual(t *testing.T, opts ...ecsemutest.Option) (*ecsemutest.Env, *ecsemu.VirtualClock, *ecs.Client) {
	t.Helper()
	clock := ecsemu.NewVirtualClock(time.Now())
	env := ecsemutest.Start(t, append([]ecsemutest.Option{ecsemutest.WithClock(clock), ecsemutest.WithSeed(1)}, opts...)...)
	return env, clock, env.ECSClient(t)
}

// wantAPIError checks that err is an SDK ServerError with code and status.
// Getting here at all proves the SDK parsed the error body without panicking.
func wantAPIError(t *testing.T, err error, code string, status int) *sdkerrors.ServerError {
	t.Helper()
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want a ServerError %s", err, err, code)
	}
	if se.ErrorCode() != code || se.HttpStatus() != status {
		t.Fatalf("got %d %s (%s), want %d %s", se.HttpStatus(), se.ErrorCode(), se.Message(), status, code)
	}
	if se.RequestId() == "" || se.HostId() == "" || se.Message() == "" {
		t.Errorf("error envelope incomplete: request %q host %q message %q", se.RequestId(), se.HostId(), se.Message())
	}
	return se
}

// rawJSON decodes an SDK response's body for checks of JSON types.
func rawJSON(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, body)
	}
	return m
}

// signedParams returns the common parameters of a valid RPC call.
func signedParams(env *ecsemutest.Env, action string, extra map[string]string) map[string]string {
	p := map[string]string{
		"Action": action, "Version": ecsemu.APIVersion, "Format": "JSON", "RegionId": env.RegionID,
		"AccessKeyId": env.AccessKeyID, "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
		"SignatureType": "", "SignatureNonce": randomNonce(), "Timestamp": time.Now().UTC().Format("2006-01-02T15:04:05Z"),
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

var nonceCounter atomic.Int64

func randomNonce() string {
	return fmt.Sprintf("nonce-%d-%d", time.Now().UnixNano(), nonceCounter.Add(1))
}

func sign(p map[string]string, method, secret string) map[string]string {
	p["Signature"] = ecsemu.SignParams(method, p, secret)
	return p
}

func encode(p map[string]string) string {
	v := url.Values{}
	for k, x := range p {
		v.Set(k, x)
	}
	return v.Encode()
}

// rawCall sends params as a GET query, a POST query or a POST form body
// and returns the status and decoded body. Error bodies must carry exactly
// the five string fields the SDK expects.
func rawCall(t *testing.T, env *ecsemutest.Env, method, query, form string) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
	}
	req, err := http.NewRequest(method, env.APIURL+"/?"+query, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := env.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := rawJSON(t, string(b))
	if resp.StatusCode != 200 {
		for _, k := range []string{"RequestId", "HostId", "Code", "Message", "Recommend"} {
			if _, ok := m[k].(string); !ok {
				t.Errorf("error body field %s = %#v, want a string", k, m[k])
			}
		}
	}
	return resp.StatusCode, m
}

// createSnapshot creates a snapshot of disk through the SDK.
func createSnapshot(t *testing.T, c *ecs.Client, disk string, mod func(*ecs.CreateSnapshotRequest)) string {
	t.Helper()
	req := ecs.CreateCreateSnapshotRequest()
	req.DiskId = disk
	if mod != nil {
		mod(req)
	}
	resp, err := c.CreateSnapshot(req)
	if err != nil {
		t.Fatalf("CreateSnapshot(%s): %v", disk, err)
	}
	if !strings.HasPrefix(resp.SnapshotId, "s-") {
		t.Fatalf("SnapshotId = %q", resp.SnapshotId)
	}
	return resp.SnapshotId
}

// describeSnapshot returns one snapshot and its raw JSON object.
func describeSnapshot(t *testing.T, c *ecs.Client, id string) (ecs.Snapshot, map[string]any) {
	t.Helper()
	req := ecs.CreateDescribeSnapshotsRequest()
	req.SnapshotIds = `["` + id + `"]`
	resp, err := c.DescribeSnapshots(req)
	if err != nil {
		t.Fatalf("DescribeSnapshots: %v", err)
	}
	if len(resp.Snapshots.Snapshot) != 1 {
		t.Fatalf("DescribeSnapshots(%s) returned %d snapshots", id, len(resp.Snapshots.Snapshot))
	}
	raw := rawJSON(t, resp.GetHttpContentString())
	snap := raw["Snapshots"].(map[string]any)["Snapshot"].([]any)[0].(map[string]any)
	return resp.Snapshots.Snapshot[0], snap
}

func integer(n int) requests.Integer { return requests.NewInteger(n) }

// manyDisks is a scenario with n ESSD data disks of sizeGiB each.
func manyDisks(n, sizeGiB int) *ecsemu.Scenario {
	sc := ecsemu.DefaultScenario()
	sc.Disks = nil
	for i := range n {
		sc.Disks = append(sc.Disks, ecsemu.Disk{ID: diskID(i), SizeGiB: sizeGiB, Category: "cloud_essd"})
	}
	return sc
}

func diskID(i int) string { return "d-disk" + string(rune('a'+i/26)) + string(rune('a'+i%26)) }
