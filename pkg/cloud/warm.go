package cloud

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// warm does once per process what the first answer of each kind on a
// job's way to its creates would otherwise do in the job's time: the SDK
// builds its JSON decoder for an answer's type by reflection on first use,
// about 1.5 ms for DescribeDisks's. It takes a few milliseconds of CPU, so
// it starts once the process's first request is written (warmAfterWrite):
// started with the job, it competed on a small machine with the job's own
// first requests, which it is there to serve, for their first
// milliseconds; after the write it has the answer's round trip to itself.
func warm() { warmOnce.Do(func() { _ = warmDecoders() }) }

// warmStarted is set once a written request has started warm.
var warmStarted atomic.Bool

// warmAfterWrite starts warm when a request has been written.
var warmAfterWrite = &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
	if warmStarted.CompareAndSwap(false, true) {
		go warm()
	}
}}

var warmOnce sync.Once

// warmDecoders decodes an empty answer of each type on the way.
func warmDecoders() error {
	var errs []error
	// The calls a job waits for before its creates are answered; the
	// preflight's run beside DescribeDisks, and the rest after the answer.
	for _, r := range []responses.AcsResponse{
		ecs.CreateDescribeDisksResponse(), ecs.CreateCreateSnapshotGroupResponse(), ecs.CreateCreateSnapshotResponse(),
	} {
		answer := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("{}"))}
		errs = append(errs, responses.Unmarshal(r, answer, "JSON"))
	}
	return errors.Join(errs...)
}
