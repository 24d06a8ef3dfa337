package cloud

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		code   string
		status int
		want   Kind
	}{
		{"Throttling", 403, KindThrottled},
		{"Throttling.User", 400, KindThrottled},
		{"Throttling.Api", 400, KindThrottled},
		{"InternalError", 500, KindServer},
		{"ServiceUnavailable", 503, KindServer},
		{"IdempotentProcessing", 403, KindInProgress},
		{"LastTokenProcessing", 403, KindInProgress},
		{"InstanceDiskLimitExceeded", 403, KindQuota},
		{"IdempotentParameterMismatch", 403, KindIdempotency},
		{"QuotaExceed.Snapshot", 403, KindQuota},
		{"IncorrectDiskStatus.CreatingSnapshot", 403, KindDiskState},
		{"IncorrectDiskStatus", 403, KindDiskState},
		{"IncorrectInstanceStatus", 403, KindInstanceState},
		{"IncorrectDiskType.NotSupport", 403, KindUnsupported},
		{"InvalidDiskId.NotFound", 404, KindNotFound},
		{"Forbidden.RAM", 403, KindPermission},
		{"SignatureDoesNotMatch", 400, KindAuth},
		{"InvalidAccessKeyId.NotFound", 404, KindAuth},
		{"InvalidSecurityToken.Expired", 400, KindCredentialsExpired},
		{"InvalidTimeStamp.Expired", 400, KindAuth},
		{"MissingParameter", 400, KindInvalidParameter},
		{"InvalidParameter", 400, KindInvalidParameter},
		{"NumberExceed.TooManyDisks", 400, KindQuota},
		{"InvalidOperation.MultiAttachDisk", 403, KindDiskState},
	}
	for _, tt := range tests {
		if got := classify(tt.code, tt.status); got != tt.want {
			t.Errorf("classify(%q, %d) = %v, want %v", tt.code, tt.status, got, tt.want)
		}
	}
}

func TestAPIErrorIsOneLineWithHint(t *testing.T) {
	for _, code := range []string{"QuotaExceed.Snapshot", "IncorrectDiskStatus.CreatingSnapshot", "Forbidden.RAM",
		"InvalidDiskId.NotFound", "Throttling", "InternalError", "IncorrectInstanceStatus"} {
		e := &APIError{Action: "CreateSnapshot", Resource: "d-1", Code: code, Message: "multi\nline", Kind: classify(code, 403)}
		msg := e.Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("%s: message has a newline: %q", code, msg)
		}
		if !strings.HasPrefix(msg, "CreateSnapshot d-1 failed: "+code+": ") || e.Hint() == "" {
			t.Errorf("%s: message %q lacks the code or a hint", code, msg)
		}
	}
	transport := &APIError{Action: "DescribeDisks", Kind: KindTransport, Err: errors.New("dial tcp: connection refused\nmore")}
	if got := transport.Error(); got != "DescribeDisks failed: dial tcp: connection refused: no answer from the ECS endpoint; check network access to it" {
		t.Errorf("transport message = %q", got)
	}
	if KindOf(fmt.Errorf("wrapped: %w", transport)) != KindTransport {
		t.Error("KindOf does not see through wrapping")
	}
}

func TestRetryDelayFullJitter(t *testing.T) {
	p := RetryPolicy{Base: 100 * time.Millisecond, Max: time.Second}.withDefaults()
	r := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 10; n++ {
		ceiling := min(p.Base<<(n-1), p.Max)
		var seenLow, seenHigh bool
		for range 200 {
			d := p.delay(n, r)
			if d < 0 || d > ceiling {
				t.Fatalf("delay(%d) = %v outside [0, %v]", n, d, ceiling)
			}
			seenLow = seenLow || d < ceiling/4
			seenHigh = seenHigh || d > ceiling*3/4
		}
		if !seenLow || !seenHigh {
			t.Errorf("delay(%d) does not spread over [0, %v]: full jitter expected", n, ceiling)
		}
	}
}

func TestResolveEndpoint(t *testing.T) {
	tests := []struct{ in, scheme, host string }{
		{"", "https", "ecs-vpc.cn-hangzhou.aliyuncs.com"},
		{"http://127.0.0.1:8080", "http", "127.0.0.1:8080"},
		{"https://ecs.example:443/", "https", "ecs.example:443"},
		{"ecs.cn-hangzhou.aliyuncs.com", "https", "ecs.cn-hangzhou.aliyuncs.com"},
	}
	for _, tt := range tests {
		s, h, err := resolveEndpoint(tt.in, "cn-hangzhou")
		if err != nil || s != tt.scheme || h != tt.host {
			t.Errorf("resolveEndpoint(%q) = %q %q %v, want %q %q", tt.in, s, h, err, tt.scheme, tt.host)
		}
	}
	for _, bad := range []string{"ftp://x", "http://", "http://h/path", "://x"} {
		if _, _, err := resolveEndpoint(bad, "r"); err == nil {
			t.Errorf("resolveEndpoint(%q) accepted", bad)
		}
	}
}
