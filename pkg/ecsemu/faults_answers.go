package ecsemu

import (
	"bytes"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
)

// Bad answers: success answers that are not what the ECS API sends, as a
// broken proxy, a middlebox or a failing front end can produce. The call
// takes effect first (it is committed), then its answer is replaced. Call.Fault
// records the kind.
const (
	// BadAnswerTruncated cuts the JSON body in half; the HTTP framing is
	// intact (Content-Length matches what is sent), only the JSON is cut.
	BadAnswerTruncated = "truncated"
	// BadAnswerEmpty answers 200 with an empty body.
	BadAnswerEmpty = "empty"
	// BadAnswerHuge answers 200 with a JSON document of BadAnswerBytes
	// (DefaultHugeAnswerBytes when zero): the real answer padded with one
	// enormous field, streamed without being held in memory.
	BadAnswerHuge = "huge"
)

// DefaultHugeAnswerBytes is the size of a huge answer unless set.
const DefaultHugeAnswerBytes = 200 << 20

var badAnswerKinds = []string{BadAnswerTruncated, BadAnswerEmpty, BadAnswerHuge}

func (f Faults) validateBadAnswer() error {
	if f.BadAnswer == "" {
		if f.BadAnswerRate != 0 || f.BadAnswerBytes != 0 {
			return fmt.Errorf("bad_answer_rate and bad_answer_bytes need bad_answer")
		}
		return nil
	}
	known := false
	for _, k := range badAnswerKinds {
		known = known || k == f.BadAnswer
	}
	if !known {
		return fmt.Errorf("bad_answer %q is not one of %v", f.BadAnswer, badAnswerKinds)
	}
	if !(f.BadAnswerRate > 0 && f.BadAnswerRate <= 1) {
		return fmt.Errorf("bad_answer_rate %v is not in (0, 1]", f.BadAnswerRate)
	}
	if f.BadAnswerBytes < 0 {
		return fmt.Errorf("bad_answer_bytes must not be negative")
	}
	return nil
}

// drawBadAnswer decides whether a successful call of action gets a bad
// answer. It draws only when the fault is set, so that other faults'
// draws stay as they were.
func (f Faults) drawBadAnswer(action string, draws *mrand.Rand) string {
	if f.BadAnswer == "" || !f.appliesTo(action) || draws.Float64() >= f.BadAnswerRate {
		return ""
	}
	return f.BadAnswer
}

// writeBadAnswer writes the kind of bad answer in place of result.
func writeBadAnswer(w http.ResponseWriter, kind string, size int64, requestID string, result any) {
	var good bytes.Buffer
	writeResult(&bodyOnly{header: http.Header{}, buf: &good}, requestID, result)
	body := good.Bytes()
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	switch kind {
	case BadAnswerEmpty:
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
	case BadAnswerTruncated:
		cut := body[:len(body)/2]
		w.Header().Set("Content-Length", strconv.Itoa(len(cut)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(cut)
	case BadAnswerHuge:
		if size <= 0 {
			size = DefaultHugeAnswerBytes
		}
		// {"RequestId":...,"Padding":"xxx...x", <the real fields>}
		head := []byte(`{"RequestId":` + strconv.Quote(requestID) + `,"Padding":"`)
		tail := append([]byte(`"`), body[bytes.IndexByte(body, '}'):]...)
		if i := bytes.IndexByte(body, ','); i > 0 {
			tail = append([]byte(`",`), body[i+1:]...)
		}
		pad := max(0, size-int64(len(head)+len(tail)))
		w.Header().Set("Content-Length", strconv.FormatInt(int64(len(head))+pad+int64(len(tail)), 10))
		w.WriteHeader(http.StatusOK)
		if _, err := w.Write(head); err != nil {
			return
		}
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for pad > 0 {
			n := min(pad, int64(len(chunk)))
			if _, err := w.Write(chunk[:n]); err != nil {
				return // the client stopped reading
			}
			pad -= n
		}
		_, _ = w.Write(tail)
	}
}

// bodyOnly captures what writeResult writes.
type bodyOnly struct {
	header http.Header
	buf    *bytes.Buffer
}

func (b *bodyOnly) Header() http.Header         { return b.header }
func (b *bodyOnly) Write(p []byte) (int, error) { return b.buf.Write(p) }
func (b *bodyOnly) WriteHeader(int)             {}
