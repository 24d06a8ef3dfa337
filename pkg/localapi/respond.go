package localapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// decode reads r's body as exactly one JSON value into v, rejecting unknown
// fields, and answers 400 or 413 itself when that fails.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		// A second value (or garbage) after the first is an error too: the
		// client meant something it did not get.
		if err = dec.Decode(&json.RawMessage{}); err == io.EOF {
			return true
		} else if err == nil {
			err = errors.New("more than one JSON value")
		}
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

// describeDecodeError turns encoding/json's errors into messages that name
// the problem and where it is.
func describeDecodeError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
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
