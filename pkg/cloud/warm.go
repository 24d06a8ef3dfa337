package cloud

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// Warm does once per process, ahead of time, what the first call of each
// kind on a job's way to its creates would otherwise do in the job's time:
// the SDK builds its JSON decoder for an answer's type by reflection on
// first use, about 1.5 ms for DescribeDisks's. A command about to run a job
// starts it beside its other preparation.
func Warm() { warmOnce.Do(func() { _ = warmDecoders() }) }

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
