package ecsemu_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

func admin(t *testing.T, env *ecsemutest.Env, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, env.AdminURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := env.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
	if resp.StatusCode != 200 {
		var e map[string]string
		if json.Unmarshal(b, &e) != nil || e["error"] == "" {
			t.Errorf("%s %s: error body %q is not {\"error\":...}", method, path, b)
		}
	}
	return resp.StatusCode
}

func TestAdminEndpoint(t *testing.T) {
	env, clock, c := startVirtual(t)
	id := createSnapshot(t, c, ecsemu.DefaultDataDiskID, nil)

	var calls []ecsemu.Call
	if admin(t, env, "GET", "/v1/calls", "", &calls) != 200 || len(calls) != 1 || calls[0].Action != "CreateSnapshot" || !calls[0].Committed {
		t.Errorf("calls = %+v", calls)
	}
	if admin(t, env, "DELETE", "/v1/calls", "", nil) != 200 || len(env.Emu.Calls()) != 0 {
		t.Error("DELETE /v1/calls did not reset")
	}
	var st ecsemu.StateDump
	if admin(t, env, "GET", "/v1/state", "", &st) != 200 || len(st.Snapshots) != 1 || st.Snapshots[0].ID != id || st.Snapshots[0].Status != "progressing" {
		t.Errorf("state = %+v", st)
	}
	var clk map[string]any
	if admin(t, env, "POST", "/v1/clock/advance", `{"duration":"1h"}`, &clk) != 200 || clk["virtual"] != true {
		t.Errorf("advance: %v", clk)
	}
	if got := env.Emu.Snapshots()[0].Status; got != "accomplished" {
		t.Errorf("after advancing 1h: %s", got)
	}
	target := clock.Now().Add(24 * time.Hour).Format(time.RFC3339)
	if admin(t, env, "POST", "/v1/clock/set", `{"time":"`+target+`"}`, nil) != 200 || clock.Now().Format(time.RFC3339) != target {
		t.Errorf("clock/set: now %v", clock.Now())
	}

	var f ecsemu.Faults
	if admin(t, env, "PUT", "/v1/faults", `{"throttle_rate":1,"actions":["DescribeDisks"],"latency":"1ms"}`, &f) != 200 || f.ThrottleRate != 1 || f.Latency != time.Millisecond {
		t.Errorf("PUT faults = %+v", f)
	}
	_, err := c.DescribeDisks(ecs.CreateDescribeDisksRequest())
	wantAPIError(t, err, "Throttling.User", 400)
	for _, bad := range []string{`{"throttle_rate":2}`, `{"bogus":1}`, `not json`, `{"actions":["Nope"]}`} {
		if code := admin(t, env, "PUT", "/v1/faults", bad, nil); code != 400 {
			t.Errorf("PUT faults %s = %d, want 400", bad, code)
		}
	}
	if admin(t, env, "GET", "/v1/faults", "", &f) != 200 || f.ThrottleRate != 1 {
		t.Errorf("GET faults = %+v", f)
	}

	if admin(t, env, "PUT", "/v1/instance/status", `{"status":"Stopped"}`, nil) != 200 || env.Emu.State().Instance.Status != "Stopped" {
		t.Error("instance status not set")
	}
	if admin(t, env, "PUT", "/v1/instance/status", `{"status":"Asleep"}`, nil) != 400 {
		t.Error("bad instance status accepted")
	}
	if admin(t, env, "PUT", "/v1/disks/"+ecsemu.DefaultDataDiskID+"/status", `{"status":"Detaching"}`, nil) != 200 {
		t.Error("disk status not set")
	}
	if admin(t, env, "PUT", "/v1/disks/d-nope/status", `{"status":"In_use"}`, nil) != 400 {
		t.Error("unknown disk accepted")
	}
	if admin(t, env, "POST", "/v1/snapshots/"+id+"/fail", "", nil) != 200 || env.Emu.Snapshots()[0].Status != "failed" {
		t.Error("snapshot not failed")
	}
	before, _ := env.Emu.CurrentCredentials()
	if admin(t, env, "POST", "/v1/credentials/rotate", "", nil) != 200 {
		t.Error("rotate failed")
	}
	if after, _ := env.Emu.CurrentCredentials(); after.AccessKeyID == before.AccessKeyID {
		t.Error("credentials not rotated")
	}
	if admin(t, env, "POST", "/v1/credentials/expire", "", nil) != 200 || admin(t, env, "POST", "/v1/metadata/tokens/expire", "", nil) != 200 {
		t.Error("expire hooks failed")
	}
	var sc ecsemu.Scenario
	if admin(t, env, "GET", "/v1/scenario", "", &sc) != 200 || sc.Instance.ID != ecsemu.DefaultInstanceID {
		t.Errorf("scenario = %+v", sc.Instance)
	}
}

func TestAdminClockNeedsVirtualClock(t *testing.T) {
	env := ecsemutest.Start(t)
	if code := admin(t, env, "POST", "/v1/clock/advance", `{"duration":"1h"}`, nil); code != http.StatusConflict {
		t.Errorf("advance on a real clock = %d, want 409", code)
	}
	var clk map[string]any
	if admin(t, env, "GET", "/v1/clock", "", &clk) != 200 || clk["virtual"] != false {
		t.Errorf("clock = %v", clk)
	}
}
