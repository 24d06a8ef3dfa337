package ecsemu

import (
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxBodyBytes caps a form body; RPC requests are small.
const maxBodyBytes = 1 << 20

// rpcRequest is one API request as the gateway sees it: the merged
// parameters and what signature V3 needs besides (the query alone, the raw
// body, the headers).
type rpcRequest struct {
	method string
	// params are the query and form-body parameters merged.
	params map[string]string
	// query holds the query-string parameters only: V3 signs them, not the body.
	query  map[string]string
	body   []byte
	header http.Header
	host   string
	path   string // escaped
}

// v3 reports whether the request is signed with signature V3 (an
// Authorization header), or looks like a V3 request that lost it. V1
// requests may carry x-acs-* headers too (the Tea SDKs send x-acs-action
// with V1), so those alone do not decide.
func (q *rpcRequest) v3() bool {
	if q.header.Get("Authorization") != "" {
		return true
	}
	return q.params["Signature"] == "" && q.params["Action"] == "" && q.header.Get("x-acs-action") != ""
}

// action names the requested action: the x-acs-action header with V3, the
// Action parameter with V1.
func (q *rpcRequest) action() string {
	if q.v3() {
		return q.header.Get("x-acs-action")
	}
	return q.params["Action"]
}

// accessKeyID is the key the request claims to be signed with: the
// AccessKeyId parameter with V1, the Authorization Credential with V3.
func (q *rpcRequest) accessKeyID() string {
	if !q.v3() {
		return q.params["AccessKeyId"]
	}
	a, _ := parseV3Authorization(q.header.Get("Authorization"))
	return a.accessKeyID
}

// identity is the parameter set that identifies a logical request for
// fault draws: with V3 the action and version travel in headers, so they
// are added as V1 would carry them.
func (q *rpcRequest) identity() params {
	if !q.v3() {
		return params(q.params)
	}
	p := maps.Clone(q.params)
	if p == nil {
		p = map[string]string{}
	}
	p["Action"], p["Version"] = q.header.Get("x-acs-action"), q.header.Get("x-acs-version")
	return p
}

// readRequest reads r into an rpcRequest. Clients differ (the Go SDK v1
// puts everything in the query of a POST; others use GET or a form body),
// so both are read and merged. On a parameter error the request is still
// returned (with what could be read) so the call can be recorded.
func readRequest(r *http.Request) (*rpcRequest, *apiError) {
	q := &rpcRequest{method: r.Method, header: r.Header, host: r.Host, path: r.URL.EscapedPath()}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return q, errUnsupportedMethod
	}
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
		if err != nil {
			return q, newErr(http.StatusBadRequest, "InvalidParameter", "The request body could not be read.")
		}
		if len(b) > maxBodyBytes {
			return q, newErr(http.StatusRequestEntityTooLarge, "InvalidParameter", "The request body is too large.")
		}
		q.body = b
	}
	query := map[string]string{}
	if aerr := mergeForm(query, r.URL.RawQuery); aerr != nil {
		return q, aerr
	}
	q.query = query
	all, aerr := parseParams(r.URL.RawQuery, r.Header.Get("Content-Type"), q.body)
	if aerr != nil {
		return q, aerr
	}
	q.params = all
	return q, nil
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
