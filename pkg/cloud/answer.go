package cloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// DefaultMaxAnswerBytes caps an API answer. The largest ecssnap asks for is
// a page of 100 snapshots or disks, a few hundred KiB; the SDK holds an
// answer in memory several times over while parsing it, so an unbounded
// body (a broken proxy, a misdirected endpoint) could take the process's
// memory: a 200 MB answer took 844 MB before the cap.
const DefaultMaxAnswerBytes = 16 << 20

// DefaultMalformedAttempts bounds the attempts of a call whose answers are
// malformed: a front end that cuts one answer may serve the next one whole,
// but one that always does will not get better within the retry budget.
const DefaultMalformedAttempts = 3

// BadAnswerError is an answer from the endpoint that is not an ECS API
// answer: too large, empty, or not the JSON document every ECS answer is
// (an object with a RequestId). It arrives wrapped in an *APIError of
// KindMalformed.
type BadAnswerError struct {
	Status  int
	Problem string // "an empty 200 answer", "truncated JSON (unexpected end of JSON input)", ...
}

func (e *BadAnswerError) Error() string { return e.Problem }

// checkAnswer reads resp's body, at most limit bytes, and hands it back
// readable again when it can be an ECS API answer. Otherwise it returns a
// *BadAnswerError (the body closed) that the SDK passes through unchanged,
// since its retries are off. Only success answers must be well formed: an
// error answer that is not JSON still carries its status, which classify
// uses.
func checkAnswer(resp *http.Response, limit int64) (*http.Response, error) {
	if resp.ContentLength > limit {
		resp.Body.Close()
		return nil, tooLarge(resp.StatusCode, strconv.FormatInt(resp.ContentLength, 10)+" bytes", limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	resp.Body.Close()
	if err != nil {
		return nil, err // a cut connection: a transport failure
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(resp.StatusCode, "more than "+strconv.FormatInt(limit, 10)+" bytes", limit)
	}
	if resp.StatusCode/100 == 2 {
		if problem := wellFormed(data); problem != "" {
			return nil, &BadAnswerError{Status: resp.StatusCode, Problem: problem}
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	return resp, nil
}

func tooLarge(status int, size string, limit int64) error {
	return &BadAnswerError{Status: status, Problem: fmt.Sprintf("an answer of %s, over the %d MiB limit", size, limit>>20)}
}

// wellFormed says what is wrong with a success answer's body, or "" when
// it is a JSON object with a RequestId, as every ECS answer is. An empty
// body must never pass: the SDK would decode it into an empty answer, and
// DescribeDisks would seem to say the instance has no disks.
func wellFormed(data []byte) string {
	if len(bytes.TrimSpace(data)) == 0 {
		return "an empty answer"
	}
	var doc struct {
		RequestID *string `json:"RequestId"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) && syn.Offset >= int64(len(data)) {
			return "truncated JSON (" + err.Error() + ")"
		}
		return "not a JSON object (" + err.Error() + ")"
	}
	if doc.RequestID == nil || *doc.RequestID == "" {
		return "a JSON answer without a RequestId"
	}
	return ""
}
