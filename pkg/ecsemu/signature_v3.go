package ecsemu

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
)

// V3Algorithm is the only signature V3 algorithm the emulator verifies
// (the default of the Tea/Darabonba SDKs; SM3 and RSA variants exist).
const V3Algorithm = "ACS3-HMAC-SHA256"

// V3 request headers.
const (
	hdrAuthorization = "Authorization"
	hdrAction        = "x-acs-action"
	hdrVersion       = "x-acs-version"
	hdrDate          = "x-acs-date"
	hdrNonce         = "x-acs-signature-nonce"
	hdrContentSHA256 = "x-acs-content-sha256"
	hdrSecurityToken = "x-acs-security-token"
)

// v3MustSign are the headers whose meaning the gateway relies on, so a
// request that leaves one out of SignedHeaders could be altered in transit.
var v3MustSign = []string{"host", hdrAction, hdrVersion, hdrDate, hdrNonce, hdrContentSHA256}

// V3Request is what a signature V3 signature covers.
type V3Request struct {
	Method string
	// Path is the escaped path ("/" for RPC APIs; empty means "/").
	Path string
	// Query holds the query-string parameters (not the form body).
	Query map[string]string
	// Headers maps lower-case names to their values; "host" is the Host.
	Headers map[string][]string
	// SignedHeaders are the names the signature covers.
	SignedHeaders []string
	// PayloadHash is hex(SHA-256(body)).
	PayloadHash string
}

// CanonicalRequest builds the V3 canonical request: method, canonical
// URI, canonical query (keys sorted, keys and values RFC 3986
// percent-encoded, "k=v" joined by "&"), canonical headers (sorted
// lower-case names, trimmed values, several values sorted and joined by
// ","), the signed header names joined by ";", and the hashed payload.
func (r V3Request) CanonicalRequest() string {
	path := r.Path
	if path == "" {
		path = "/"
	}
	keys := make([]string, 0, len(r.Query))
	for k := range r.Query {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	query := make([]string, len(keys))
	for i, k := range keys {
		query[i] = percentEncode(k) + "=" + percentEncode(r.Query[k])
	}
	names := make([]string, len(r.SignedHeaders))
	for i, n := range r.SignedHeaders {
		names[i] = strings.ToLower(strings.TrimSpace(n))
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var headers strings.Builder
	for _, n := range names {
		vals := make([]string, 0, len(r.Headers[n]))
		for _, v := range r.Headers[n] {
			vals = append(vals, strings.TrimSpace(v))
		}
		slices.Sort(vals)
		headers.WriteString(n + ":" + strings.Join(vals, ",") + "\n")
	}
	return strings.Join([]string{
		r.Method, path, strings.Join(query, "&"), headers.String(), strings.Join(names, ";"), r.PayloadHash,
	}, "\n")
}

// StringToSign is "ACS3-HMAC-SHA256\n" + hex(SHA-256(canonical request)).
func (r V3Request) StringToSign() string {
	sum := sha256.Sum256([]byte(r.CanonicalRequest()))
	return V3Algorithm + "\n" + hex.EncodeToString(sum[:])
}

// Sign returns hex(HMAC-SHA256(secret, string to sign)).
func (r V3Request) Sign(secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(r.StringToSign()))
	return hex.EncodeToString(mac.Sum(nil))
}

// Authorization is the header value for accessKeyID and secret.
func (r V3Request) Authorization(accessKeyID, secret string) string {
	names := make([]string, len(r.SignedHeaders))
	for i, n := range r.SignedHeaders {
		names[i] = strings.ToLower(n)
	}
	slices.Sort(names)
	return V3Algorithm + " Credential=" + accessKeyID + ",SignedHeaders=" + strings.Join(slices.Compact(names), ";") +
		",Signature=" + r.Sign(secret)
}

// PayloadHash returns hex(SHA-256(body)), the x-acs-content-sha256 value.
func PayloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// v3Auth is a parsed Authorization header.
type v3Auth struct {
	algorithm     string
	accessKeyID   string
	signedHeaders []string
	signature     string
}

// parseV3Authorization reads
// "ACS3-HMAC-SHA256 Credential=<AK>,SignedHeaders=<a;b>,Signature=<hex>".
func parseV3Authorization(h string) (v3Auth, *apiError) {
	var a v3Auth
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return a, errIncompleteSignature("the Authorization header is not \"<algorithm> Credential=...,SignedHeaders=...,Signature=...\"")
	}
	a.algorithm = alg
	var haveHeaders bool
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, errIncompleteSignature("the Authorization header has a part without \"=\": " + part)
		}
		switch k {
		case "Credential":
			a.accessKeyID = v
		case "SignedHeaders":
			haveHeaders = true
			if v != "" {
				a.signedHeaders = strings.Split(v, ";")
			}
		case "Signature":
			a.signature = v
		}
	}
	switch {
	case a.accessKeyID == "":
		return a, errIncompleteSignature("the Authorization header has no Credential")
	case !haveHeaders:
		return a, errIncompleteSignature("the Authorization header has no SignedHeaders")
	case a.signature == "":
		return a, errIncompleteSignature("the Authorization header has no Signature")
	}
	return a, nil
}

// authenticateV3 runs the signature V3 checks in the order a client meets
// them: the Authorization header, the action and version headers, the API's
// existence, the algorithm, the required headers being present and signed,
// the date, the access key and STS token, the signature over the canonical
// request (its payload hash computed from the body received, so a body
// that does not match x-acs-content-sha256 fails the signature), and the
// nonce. Callers hold e.mu.
func (e *Emulator) authenticateV3(q *rpcRequest) (actionSpec, *apiError) {
	authz := q.header.Get(hdrAuthorization)
	if authz == "" {
		return actionSpec{}, errIncompleteSignature("the request has x-acs-* headers but no Authorization header")
	}
	auth, aerr := parseV3Authorization(authz)
	if aerr != nil {
		return actionSpec{}, aerr
	}
	for _, h := range []string{hdrAction, hdrVersion} {
		if q.header.Get(h) == "" {
			return actionSpec{}, errMissingParameter(h)
		}
	}
	spec, ok := actions[q.header.Get(hdrAction)]
	if !ok || q.header.Get(hdrVersion) != APIVersion {
		return actionSpec{}, errActionNotFound
	}
	if auth.algorithm != V3Algorithm {
		return spec, newErr(http.StatusBadRequest, "InvalidSignatureMethod",
			"Specified signature method %q is not supported; the emulator verifies %s.", auth.algorithm, V3Algorithm)
	}
	for _, h := range []string{hdrDate, hdrNonce, hdrContentSHA256} {
		if q.header.Get(h) == "" {
			return spec, errMissingParameter(h)
		}
	}
	signed := make(map[string]bool, len(auth.signedHeaders))
	for _, n := range auth.signedHeaders {
		signed[strings.ToLower(strings.TrimSpace(n))] = true
	}
	mustSign := v3MustSign
	if q.header.Get(hdrSecurityToken) != "" {
		mustSign = append(slices.Clip(mustSign), hdrSecurityToken)
	}
	for _, n := range mustSign {
		if !signed[n] {
			return spec, errIncompleteSignature("SignedHeaders must include " + n)
		}
	}
	signNow, aerr := e.checkTimestamp(q.header.Get(hdrDate))
	if aerr != nil {
		return spec, aerr
	}
	secret, aerr := e.secretFor(auth.accessKeyID, q.header.Get(hdrSecurityToken))
	if aerr != nil {
		return spec, aerr
	}
	req := V3Request{
		Method: q.method, Path: q.path, Query: q.query, Headers: map[string][]string{},
		SignedHeaders: auth.signedHeaders, PayloadHash: PayloadHash(q.body),
	}
	for n := range signed {
		if n == "host" {
			req.Headers[n] = []string{q.host}
			continue
		}
		req.Headers[n] = q.header.Values(n)
	}
	sts := req.StringToSign()
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(sts))
	want := hex.EncodeToString(mac.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(auth.signature))) != 1 {
		return spec, errSignatureMismatch(sts)
	}
	return spec, e.useNonce(auth.accessKeyID+"\x00"+q.header.Get(hdrNonce), signNow, e.sc.Behavior.TimestampWindow.D())
}
