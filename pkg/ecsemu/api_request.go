package ecsemu

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxBodyBytes caps a form body; RPC requests are small.
const maxBodyBytes = 1 << 20

// readParams extracts the merged RPC parameters of r: the query string and,
// for a form body, the body. Clients differ (the Go SDK puts everything in
// the query of a POST; others use GET or a form body), so both are read.
func readParams(r *http.Request) (map[string]string, *apiError) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return nil, errUnsupportedMethod
	}
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
		if err != nil {
			return nil, newErr(http.StatusBadRequest, "InvalidParameter", "The request body could not be read.")
		}
		if len(b) > maxBodyBytes {
			return nil, newErr(http.StatusRequestEntityTooLarge, "InvalidParameter", "The request body is too large.")
		}
		body = b
	}
	return parseParams(r.URL.RawQuery, r.Header.Get("Content-Type"), body)
}

// parseParams merges a raw query string and a request body into one
// parameter map. The body is read as a form when its content type is
// application/x-www-form-urlencoded or absent; other bodies are ignored.
// A parameter given twice (in either place) is an error, because the
// signature would be ambiguous.
func parseParams(rawQuery, contentType string, body []byte) (map[string]string, *apiError) {
	params := map[string]string{}
	if err := mergeForm(params, rawQuery); err != nil {
		return nil, err
	}
	if len(body) > 0 && isForm(contentType) {
		if err := mergeForm(params, string(body)); err != nil {
			return nil, err
		}
	}
	return params, nil
}

func isForm(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

func mergeForm(dst map[string]string, s string) *apiError {
	vals, err := url.ParseQuery(s)
	if err != nil {
		return newErr(http.StatusBadRequest, "InvalidParameter", "The request parameters are not well-formed form encoding.")
	}
	for k, vs := range vals {
		if k == "" {
			continue
		}
		if _, dup := dst[k]; dup || len(vs) > 1 {
			return newErr(http.StatusBadRequest, "InvalidParameter", "The parameter %q is specified more than once.", k)
		}
		dst[k] = vs[0]
	}
	return nil
}

// params is a parameter map with typed accessors for handlers.
type params map[string]string

func (p params) has(k string) bool { _, ok := p[k]; return ok }

// bool reads a "true"/"false" parameter; anything else is invalid.
func (p params) bool(k string) (bool, *apiError) {
	v, ok := p[k]
	if !ok || v == "" {
		return false, nil
	}
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errInvalidParameter(k)
}

// list reads the 1-based repeated parameter prefix.N (N = 1..max), in N
// order. Gaps are allowed; N outside 1..max is an error.
func (p params) list(prefix string, max int) ([]string, *apiError) {
	for k := range p {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok || strings.Contains(rest, ".") {
			continue
		}
		if n, err := strconv.Atoi(rest); err != nil || n < 1 || n > max {
			return nil, newErr(http.StatusBadRequest, "InvalidParameter", "The parameter %q is not valid (N is 1 to %d).", k, max)
		}
	}
	var out []string
	for n := 1; n <= max; n++ {
		if v, ok := p[prefix+"."+strconv.Itoa(n)]; ok {
			out = append(out, v)
		}
	}
	return out, nil
}
