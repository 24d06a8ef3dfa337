package localapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// decode reads r's body as exactly one JSON object into v, rejecting
// unknown fields, and answers 400, 408 or 413 itself when that fails. The
// body must arrive within the handler's body timeout (a wall-clock
// deadline on the socket); on success the deadline is lifted, because a
// job request may then wait long for its answer.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	rc := http.NewResponseController(w)
	// Where the writer cannot set deadlines (a recorder in unit tests)
	// there is no socket to stall.
	_ = rc.SetReadDeadline(time.Now().Add(h.bodyTTL))
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := objectStart(dec)
	if err == nil {
		err = dec.Decode(v)
	}
	if err == nil {
		// A second value (or garbage) after the first is an error too: the
		// client meant something it did not get.
		if err = dec.Decode(&json.RawMessage{}); err == io.EOF {
			_ = rc.SetReadDeadline(time.Time{})
			return true
		} else if err == nil {
			err = errors.New("more than one JSON value")
		}
	}
	// The deadline stays on a failed read: whatever the server still
	// drains of the body after this answer is bounded by it too.
	if errors.Is(err, os.ErrDeadlineExceeded) {
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestTimeout, CodeTimeout, fmt.Sprintf("request body not received within %v", h.bodyTTL))
		return false
	}
	status, msg := http.StatusBadRequest, describeDecodeError(err)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		status, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds the limit of %d bytes", tooBig.Limit)
	}
	code := CodeBadRequest
	if status == http.StatusRequestEntityTooLarge {
		code = CodeTooLarge
	}
	writeError(w, status, code, msg)
	return false
}

// errNotObject: the body is JSON but not an object (null would otherwise
// decode as an empty request and start a job with every default).
var errNotObject = errors.New("expected a JSON object")

// objectStart checks, without consuming it, that the next value of dec
// is an object. Arrays and other types are left to Decode, whose type
// error names the expected type.
func objectStart(dec *json.Decoder) error {
	b, err := firstByte(dec)
	if err != nil {
		return err
	}
	if b == 'n' {
		return errNotObject
	}
	return nil
}

// firstByte peeks at the first non-space byte of dec's next value.
func firstByte(dec *json.Decoder) (byte, error) {
	for {
		buf := dec.Buffered()
		var b [1]byte
		for {
			n, _ := buf.Read(b[:])
			if n == 0 {
				break
			}
			switch b[0] {
			case ' ', '\t', '\r', '\n':
				continue
			}
			return b[0], nil
		}
		// Nothing buffered but space: let More read on (it reports false
		// at the end of the input, and Decode then names the problem).
		if !dec.More() {
			return 0, nil
		}
	}
}

// describeDecodeError turns encoding/json's errors into messages that name
// the problem and where it is.
func describeDecodeError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errNotObject):
		return "request body is JSON but not an object: expected a JSON object"
	case err == io.EOF:
		return "request body is empty: expected a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: the body ends in the middle of a value"
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Sprintf("field %s: expected %s, got JSON %s", field, typ.Type, typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this one.
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "invalid request: " + err.Error()
}

// writeJSON encodes v before sending anything, so that an encoding failure
// can still become a 500 with the envelope.
func (h *handler) writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		h.log.Error("cannot encode local API response", "err", err)
		writeError(w, http.StatusInternalServerError, CodeInternal, "cannot encode the response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// backendError sends the status a Backend error asks for.
func (h *handler) backendError(w http.ResponseWriter, r *http.Request, err error) {
	var apiErr *Error
	switch {
	case errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status <= 599:
		code := apiErr.Code
		if code == "" {
			code = CodeInternal
		}
		writeError(w, apiErr.Status, code, apiErr.Message)
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, err.Error())
	case r.Context().Err() != nil:
		// The client went away; nobody reads this answer.
		writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "request canceled")
	default:
		h.log.Error("local API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, CodeInternal, err.Error())
	}
}
