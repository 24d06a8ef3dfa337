package cloud_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
)

// TestMalformedAnswers: an answer that is not an ECS answer is called what
// it is, after a bounded number of attempts, and never read as an empty
// list. Before, truncated JSON was retried for the whole budget and then
// blamed on "no answer from the ECS endpoint", and an empty 200 became a
// list of no disks.
func TestMalformedAnswers(t *testing.T) {
	for _, tt := range []struct {
		kind, want string
	}{
		{ecsemu.BadAnswerTruncated, "truncated JSON (unexpected end of JSON input)"},
		{ecsemu.BadAnswerEmpty, "an empty answer"},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			env := ecsemutest.Start(t, ecsemutest.WithFaults(ecsemu.Faults{BadAnswer: tt.kind, BadAnswerRate: 1}))
			cl := staticClient(t, env)
			start := time.Now()
			disks, err := cl.DescribeDisks(context.Background(), env.InstanceID)
			if err == nil {
				t.Fatalf("DescribeDisks = %d disks, nil error; want a malformed-answer error", len(disks))
			}
			var ae *cloud.APIError
			if !errors.As(err, &ae) || ae.Kind != cloud.KindMalformed || ae.Attempts != cloud.DefaultMalformedAttempts {
				t.Errorf("err = %#v, want KindMalformed after %d attempts", err, cloud.DefaultMalformedAttempts)
			}
			msg := err.Error()
			for _, want := range []string{"DescribeDisks " + env.InstanceID + " failed: malformed answer from " + env.APIURL + ": " + tt.want,
				"(3 attempts)", "check api_endpoint"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q lacks %q", msg, want)
				}
			}
			if strings.Contains(msg, "no answer") || strings.Contains(msg, "\n") {
				t.Errorf("message %q", msg)
			}
			if n := countCalls(env.Emu, "DescribeDisks"); n != cloud.DefaultMalformedAttempts {
				t.Errorf("%d DescribeDisks calls, want %d", n, cloud.DefaultMalformedAttempts)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("gave up after %v", d)
			}
		})
	}
}

// TestMalformedCreateMakesOneSnapshot: a create whose answers are cut
// took effect; its repeats carry the same ClientToken, so one snapshot
// exists however often it is asked, and the error says the answer was bad.
func TestMalformedCreateMakesOneSnapshot(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithFaults(ecsemu.Faults{BadAnswer: ecsemu.BadAnswerTruncated, BadAnswerRate: 1, Actions: []string{"CreateSnapshot"}}))
	cl := staticClient(t, env)
	_, err := cl.CreateSnapshot(context.Background(), cloud.CreateSnapshotInput{DiskID: ecsemu.DefaultDataDiskID, ClientToken: "malformed-1"})
	if cloud.KindOf(err) != cloud.KindMalformed {
		t.Fatalf("err = %v, want KindMalformed", err)
	}
	if n := len(env.Emu.Snapshots()); n != 1 {
		t.Errorf("%d snapshots, want 1", n)
	}
}

// TestAnswerOfTheWrongShape: JSON with a RequestId whose fields do not
// have the action's types is malformed too.
func TestAnswerOfTheWrongShape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"RequestId":"R-1","Disks":"none"}`))
	}))
	defer srv.Close()
	cl, err := cloud.New(cloud.Config{Region: "cn-hangzhou", Endpoint: srv.URL, Credentials: cloud.NewStaticCredentials("id", "secret"),
		Retry: cloud.RetryPolicy{Base: time.Millisecond, Max: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.DescribeDisks(context.Background(), "i-bp1x")
	if cloud.KindOf(err) != cloud.KindMalformed || !strings.Contains(err.Error(), "malformed answer from "+srv.URL) {
		t.Errorf("err = %v, want a malformed answer", err)
	}
}

// countingTransport counts the body bytes the client read.
type countingTransport struct {
	base http.RoundTripper
	read atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err == nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &c.read}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// TestHugeAnswerIsCapped: a body over the cap is refused without reading
// it: at once when its length is declared, at the cap when it is not.
func TestHugeAnswerIsCapped(t *testing.T) {
	const limit = 1 << 20
	t.Run("declared length", func(t *testing.T) {
		env := ecsemutest.Start(t, ecsemutest.WithFaults(ecsemu.Faults{BadAnswer: ecsemu.BadAnswerHuge, BadAnswerRate: 1, BadAnswerBytes: 8 << 20}))
		ct := &countingTransport{base: env.HTTPClient().Transport}
		cl, err := cloud.New(cloud.Config{Region: env.RegionID, Endpoint: env.APIURL, Transport: ct, MaxAnswerBytes: limit,
			Credentials: cloud.NewStaticCredentials(env.AccessKeyID, env.AccessKeySecret), Retry: cloud.RetryPolicy{Base: time.Millisecond, Max: time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.DescribeDisks(context.Background(), env.InstanceID)
		if cloud.KindOf(err) != cloud.KindMalformed || !strings.Contains(err.Error(), "an answer of 8388608 bytes, over the 1 MiB limit") {
			t.Errorf("err = %v", err)
		}
		if n := ct.read.Load(); n > 64<<10 {
			t.Errorf("read %d bytes of answers over the limit", n)
		}
	})
	t.Run("streamed", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"RequestId":"R-1","Padding":"`))
			chunk := []byte(strings.Repeat("x", 64<<10))
			for range 128 { // 8 MiB, chunked: no length declared
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			w.Write([]byte(`"}`))
		}))
		defer srv.Close()
		ct := &countingTransport{base: http.DefaultTransport}
		cl, err := cloud.New(cloud.Config{Region: "cn-hangzhou", Endpoint: srv.URL, Transport: ct, MaxAnswerBytes: limit,
			Credentials: cloud.NewStaticCredentials("id", "secret"), Retry: cloud.RetryPolicy{Base: time.Millisecond, Max: time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.DescribeDisks(context.Background(), "i-bp1x")
		if cloud.KindOf(err) != cloud.KindMalformed || !strings.Contains(err.Error(), "more than 1048576 bytes, over the 1 MiB limit") {
			t.Errorf("err = %v", err)
		}
		if n, most := ct.read.Load(), int64(cloud.DefaultMalformedAttempts*(limit+64<<10)); n > most {
			t.Errorf("read %d bytes in %d attempts, want at most %d", n, cloud.DefaultMalformedAttempts, most)
		}
	})
}
