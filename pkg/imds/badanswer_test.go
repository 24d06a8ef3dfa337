package imds_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/imds"
)

const htmlPage = "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head><body>It works</body></html>\n"

// answers serves fixed answers by path: the token request, then meta-data
// items; anything else gets fallback.
type answers struct {
	token              string
	tokenStatus        int
	items              map[string]string
	fallback           string
	fallbackStatus     int
	instanceType404    bool
	requestsWithoutTok int
}

func (a *answers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/latest/api/token" && (a.tokenStatus != 0 || a.token != "" || a.items != nil) {
		w.WriteHeader(max(a.tokenStatus, 200))
		w.Write([]byte(a.token))
		return
	}
	if v, ok := a.items[strings.TrimPrefix(r.URL.Path, "/latest/meta-data/")]; ok {
		w.Write([]byte(v))
		return
	}
	w.WriteHeader(max(a.fallbackStatus, 200))
	w.Write([]byte(a.fallback))
}

func goodItems() map[string]string {
	return map[string]string{"instance-id": "i-bp1ecssnapemu0000001", "region-id": "cn-hangzhou", "zone-id": "cn-hangzhou-h"}
}

func with(m map[string]string, k, v string) map[string]string {
	m[k] = v
	return m
}

// TestNotTheMetadataService: whatever answers at the metadata address with
// what the ECS metadata service never says is reported as "not on ECS",
// naming what it answered, and its answer is never taken as an identity.
func TestNotTheMetadataService(t *testing.T) {
	tests := []struct {
		name      string
		srv       *answers
		tokenless bool
		want      string
	}{
		{"web server answering HTML to everything", &answers{fallback: htmlPage},
			false, `it answered "<!DOCTYPE html>\n<html><head><title>Welco"... for the token`},
		{"empty token", &answers{token: "", tokenStatus: 200, items: goodItems()},
			false, "it answered an empty answer for the token"},
		{"token with spaces", &answers{token: "not a token", items: goodItems()},
			false, `it answered "not a token" for the token`},
		{"web server answering 404", &answers{fallback: "Not Found", fallbackStatus: 404},
			false, "it answered 404 Not Found for the token request (PUT /latest/api/token)"},
		{"HTML instance ID", &answers{token: "AAAAtoken==", items: with(goodItems(), "instance-id", htmlPage)},
			false, `it answered "<!DOCTYPE html>\n<html><head><title>Welco"... for instance-id`},
		{"HTML instance ID, tokenless", &answers{tokenStatus: 403, items: with(goodItems(), "instance-id", htmlPage)},
			true, `for instance-id`},
		{"HTML region", &answers{token: "AAAAtoken==", items: with(goodItems(), "region-id", "<html>")},
			false, `it answered "<html>" for region-id`},
		{"zone of another region", &answers{token: "AAAAtoken==", items: with(goodItems(), "zone-id", "cn-beijing-a")},
			false, `it answered "cn-beijing-a" for zone-id, not a zone of region cn-hangzhou`},
		{"no instance ID", &answers{token: "AAAAtoken==", items: map[string]string{"region-id": "cn-hangzhou"}, fallback: "no", fallbackStatus: 404},
			false, "it answered 404 Not Found for instance-id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.srv)
			defer srv.Close()
			c := imds.New(imds.Config{Endpoint: srv.URL, AllowTokenless: tt.tokenless})
			id, err := c.Identity(context.Background())
			var un *imds.UnreachableError
			if !errors.As(err, &un) {
				t.Fatalf("Identity = %+v, %v; want *UnreachableError", id, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "no ECS metadata service at "+srv.URL+": ") || !strings.HasSuffix(msg, ": is this an ECS instance?") ||
				!strings.Contains(msg, tt.want) {
				t.Errorf("message %q\nwant it to contain %q", msg, tt.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("message is more than one line: %q", msg)
			}
		})
	}
}

// TestIdentityShapes accepts the shapes real regions and zones have.
func TestIdentityShapes(t *testing.T) {
	for _, id := range []imds.Identity{
		{InstanceID: "i-bp1ecssnapemu0000001", RegionID: "cn-hangzhou", ZoneID: "cn-hangzhou-h"},
		{InstanceID: "i-t4n0123456789abcdefg", RegionID: "ap-southeast-1", ZoneID: "ap-southeast-1a"},
		{InstanceID: "i-23abcdefg", RegionID: "cn-shanghai-finance-1", ZoneID: "cn-shanghai-finance-1z"},
		{InstanceID: "i-0xi1234567890abcdef", RegionID: "eu-central-1", ZoneID: "eu-central-1b"},
	} {
		srv := httptest.NewServer(&answers{token: "AAAAtoken==", items: map[string]string{
			"instance-id": id.InstanceID + "\n", "region-id": id.RegionID, "zone-id": id.ZoneID}, fallbackStatus: 404})
		got, err := imds.New(imds.Config{Endpoint: srv.URL}).Identity(context.Background())
		srv.Close()
		if err != nil || got != id {
			t.Errorf("Identity = %+v, %v; want %+v", got, err, id)
		}
	}
}

// TestCancelledIsNotUnreachable: a caller that gives up (a signal) while
// the service is slow is told that, not that this is no ECS instance.
func TestCancelledIsNotUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	stop := errors.New("interrupted by SIGINT")
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel(stop) }()
	_, err := imds.New(imds.Config{Endpoint: srv.URL}).Identity(ctx)
	var un *imds.UnreachableError
	if errors.As(err, &un) || !errors.Is(err, stop) {
		t.Errorf("err = %v, want the cancellation's cause, not unreachable", err)
	}
}

// Callers that ask for the identity while it is being read share that read
// and its outcome, a failure too: a job that asked for it ahead of time
// and the engine that needs it cost one read, and one wait for a service
// that is not there, not two.
func TestConcurrentIdentityCallsShareOneRead(t *testing.T) {
	var reads atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/latest/meta-data/instance-id" {
			reads.Add(1)
			time.Sleep(200 * time.Millisecond)
			w.Write([]byte(htmlPage)) // not an instance ID: the read fails
			return
		}
		w.Write([]byte("token-1"))
	}))
	defer srv.Close()
	c := imds.New(imds.Config{Endpoint: srv.URL})
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := c.Identity(context.Background())
			errs <- err
		}()
		time.Sleep(50 * time.Millisecond) // the second comes while the first reads
	}
	for range 2 {
		var un *imds.UnreachableError
		if err := <-errs; !errors.As(err, &un) {
			t.Errorf("Identity: %v; want not the metadata service", err)
		}
	}
	if reads.Load() != 1 {
		t.Errorf("instance-id was read %d times; want once for both callers", reads.Load())
	}
	// A failure is not kept: the next call reads again.
	c.Identity(context.Background())
	if reads.Load() != 2 {
		t.Errorf("after the failed read, the next call made %d reads in all; want 2", reads.Load())
	}
}
