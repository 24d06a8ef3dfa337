package ecsemu

import (
	"time"
)

// APIVersion is the only ECS API version the emulator serves.
const APIVersion = "2014-05-26"

// timestampFormat is the RPC Timestamp format (UTC).
const timestampFormat = "2006-01-02T15:04:05Z"

// authenticate runs the gateway checks of a V1 or V3 request, then the
// action's parameter rules. Callers hold e.mu.
func (e *Emulator) authenticate(q *rpcRequest) (actionSpec, *apiError) {
	var (
		spec actionSpec
		aerr *apiError
	)
	if q.v3() {
		spec, aerr = e.authenticateV3(q)
	} else {
		spec, aerr = e.authenticateV1(q.method, params(q.params))
	}
	if aerr != nil {
		return spec, aerr
	}
	return spec, e.requireParams(spec.params, params(q.params))
}

// authenticateV1 runs the signature V1 checks in the order a client meets
// them: required common parameters, the API's existence, timestamp,
// signature method, access key and STS token, signature, nonce replay.
// Callers hold e.mu.
func (e *Emulator) authenticateV1(method string, p params) (actionSpec, *apiError) {
	for _, name := range []string{"Action", "Version"} {
		if p[name] == "" {
			return actionSpec{}, errMissingParameter(name)
		}
	}
	spec, ok := actions[p["Action"]]
	if !ok || p["Version"] != APIVersion {
		return actionSpec{}, errActionNotFound
	}
	if f := p["Format"]; f != "" && f != "JSON" && f != "json" {
		return spec, errFormat
	}
	for _, name := range []string{"AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp"} {
		if p[name] == "" {
			return spec, errMissingParameter(name)
		}
	}
	signNow, aerr := e.checkTimestamp(p["Timestamp"])
	if aerr != nil {
		return spec, aerr
	}
	if p["SignatureMethod"] != "HMAC-SHA1" {
		return spec, errSignatureMethod
	}
	if p["SignatureVersion"] != "1.0" {
		return spec, errSignatureVersion
	}
	secret, aerr := e.secretFor(p["AccessKeyId"], p["SecurityToken"])
	if aerr != nil {
		return spec, aerr
	}
	if ok, sts := verifySignature(method, p, secret); !ok {
		return spec, errSignatureMismatch(sts)
	}
	// Nonces are checked only after the signature, so a forged request
	// cannot burn a legitimate client's nonce.
	return spec, e.useNonce(p["AccessKeyId"]+"\x00"+p["SignatureNonce"], signNow, e.sc.Behavior.TimestampWindow.D())
}

// checkTimestamp parses a request time (V1 Timestamp, V3 x-acs-date) and
// refuses one further than the window from the signing clock; it returns
// the signing clock's now.
func (e *Emulator) checkTimestamp(v string) (time.Time, *apiError) {
	ts, err := time.Parse(timestampFormat, v)
	if err != nil {
		return time.Time{}, errTimestampFormat
	}
	signNow := e.signClock.Now()
	window := e.sc.Behavior.TimestampWindow.D()
	if skew := signNow.Sub(ts); skew > window || skew < -window {
		return time.Time{}, errTimestampExpired
	}
	return signNow, nil
}

// secretFor finds the secret of the request's access key, checking the
// SecurityToken of STS keys against the emulator clock.
func (e *Emulator) secretFor(id, token string) (string, *apiError) {
	for _, k := range e.sc.AccessKeys {
		if k.ID == id {
			if token != "" {
				return "", errSecurityTokenMalformed
			}
			return k.Secret, nil
		}
	}
	c, ok := e.sts.byKey[id]
	if !ok {
		return "", errAccessKeyNotFound
	}
	switch {
	case token == "":
		return "", errMissingSecurityToken
	case token != c.SecurityToken:
		return "", errSecurityTokenMismatch
	case !e.clock.Now().Before(c.Expiration):
		return "", errSecurityTokenExpired
	}
	return c.AccessKeySecret, nil
}

// useNonce records a nonce, refusing one seen within the window. Nonces
// older than two windows are forgotten: a replay that old fails the
// timestamp check anyway.
func (e *Emulator) useNonce(key string, now time.Time, window time.Duration) *apiError {
	if _, used := e.nonces[key]; used {
		return errNonceUsed
	}
	if len(e.nonces) > 4096 {
		for k, t := range e.nonces {
			if now.Sub(t) > 2*window {
				delete(e.nonces, k)
			}
		}
	}
	e.nonces[key] = now
	return nil
}
