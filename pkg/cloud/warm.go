package cloud

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// warm does once per process what the first answer of each kind on a
// job's way to its creates would otherwise do in the job's time: the SDK
// builds its JSON decoder for an answer's type by reflection on first use,
// about 1.5 ms for DescribeDisks's and 0.6 ms for DescribeSnapshots's. It
// takes a few milliseconds of CPU, so it starts warmDelay after the
// process's first request is written (warmAfterWrite): started with the
// job, it competed on a small machine with the job's first requests, which
// go out within a millisecond or two of each other and which it is there
// to serve; after them it has their round trip to itself.
func warm() { warmOnce.Do(func() { _ = warmDecoders() }) }

// warmDelay is how long after the first request is written warm starts.
const warmDelay = 2 * time.Millisecond

// warmStarted is set once a written request has set warm going.
var warmStarted atomic.Bool

// warmAfterWrite is a request's trace that starts warm once the request
// has been written. It is a new one every time: httptrace composes a
// trace with the one already in the context by rewriting its hooks.
func warmAfterWrite() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
		if warmStarted.CompareAndSwap(false, true) {
			time.AfterFunc(warmDelay, warm)
		}
	}}
}

var warmOnce sync.Once

// warmDecoders decodes an empty answer of each type on the way.
func warmDecoders() error {
	var errs []error
	// The calls a job waits for before its creates are answered: the
	// inventory, the preflight's beside it (running snapshots and the
	// quota count), and the creates.
	for _, r := range []responses.AcsResponse{
		ecs.CreateDescribeDisksResponse(), ecs.CreateDescribeSnapshotsResponse(),
		ecs.CreateCreateSnapshotGroupResponse(), ecs.CreateCreateSnapshotResponse(),
	} {
		answer := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("{}"))}
		errs = append(errs, responses.Unmarshal(r, answer, "JSON"))
	}
	return errors.Join(errs...)
}
