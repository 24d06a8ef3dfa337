package ecsemu_test

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// rawBody sends a signed DescribeDisks and returns the status, the declared
// length and the body as received.
func rawBody(t *testing.T, env *ecsemutest.Env) (int, int64, []byte) {
	t.Helper()
	q := encode(sign(signedParams(env, "DescribeDisks", map[string]string{"InstanceId": env.InstanceID}), "GET", env.AccessKeySecret))
	resp, err := env.HTTPClient().Get(env.APIURL + "/?" + q)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	return resp.StatusCode, resp.ContentLength, b
}

func TestBadAnswerFaults(t *testing.T) {
	env := ecsemutest.Start(t)
	_, _, good := rawBody(t, env)
	if !json.Valid(good) || !strings.Contains(string(good), `"Disks"`) {
		t.Fatalf("good answer %q", good)
	}

	mustOK(t, env.Emu.SetFaults(ecsemu.Faults{BadAnswer: ecsemu.BadAnswerTruncated, BadAnswerRate: 1}))
	status, n, body := rawBody(t, env)
	if status != 200 || n != int64(len(body)) || json.Valid(body) || !strings.HasPrefix(string(body), `{"RequestId":`) || len(body) < len(good)/3 {
		t.Errorf("truncated: %d, length %d, body %q", status, n, body)
	}
	if c := lastCall(t, env); c.Fault != ecsemu.BadAnswerTruncated || !c.Committed {
		t.Errorf("truncated answer recorded as %+v", c)
	}

	mustOK(t, env.Emu.SetFaults(ecsemu.Faults{BadAnswer: ecsemu.BadAnswerEmpty, BadAnswerRate: 1}))
	if status, n, body := rawBody(t, env); status != 200 || n != 0 || len(body) != 0 {
		t.Errorf("empty: %d, length %d, body %q", status, n, body)
	}

	const size = 3<<20 + 7
	mustOK(t, env.Emu.SetFaults(ecsemu.Faults{BadAnswer: ecsemu.BadAnswerHuge, BadAnswerRate: 1, BadAnswerBytes: size}))
	status, n, body = rawBody(t, env)
	var doc struct {
		RequestID string `json:"RequestId"`
		Padding   string
		Disks     json.RawMessage
	}
	if err := json.Unmarshal(body, &doc); err != nil || status != 200 || n != size || len(body) != size ||
		doc.RequestID == "" || len(doc.Padding) < size-len(good)-100 || len(doc.Disks) == 0 {
		t.Errorf("huge: %d, length %d of %d, %v", status, n, len(body), err)
	}

	// Scoped to actions, and validated.
	mustOK(t, env.Emu.SetFaults(ecsemu.Faults{BadAnswer: ecsemu.BadAnswerEmpty, BadAnswerRate: 1, Actions: []string{"CreateSnapshot"}}))
	if _, _, body := rawBody(t, env); !json.Valid(body) {
		t.Errorf("DescribeDisks got a CreateSnapshot-only bad answer: %q", body)
	}
	for _, f := range []ecsemu.Faults{{BadAnswer: "garbled", BadAnswerRate: 1}, {BadAnswer: ecsemu.BadAnswerEmpty}, {BadAnswerRate: 0.5}} {
		if err := f.Validate(); err == nil {
			t.Errorf("%+v validated", f)
		}
	}
	var round ecsemu.Faults
	b, _ := json.Marshal(ecsemu.Faults{BadAnswer: ecsemu.BadAnswerHuge, BadAnswerRate: 0.5, BadAnswerBytes: 1 << 20})
	if err := json.Unmarshal(b, &round); err != nil || round.BadAnswer != ecsemu.BadAnswerHuge || round.BadAnswerRate != 0.5 || round.BadAnswerBytes != 1<<20 {
		t.Errorf("JSON round trip of %s: %+v, %v", b, round, err)
	}
}
