package ecsemu

import (
	"slices"
	"strings"
)

// idemEntry is one ClientToken's record: in flight until done, then the
// result every retry with the same parameters gets.
type idemEntry struct {
	fingerprint string
	done        bool
	result      any
}

// commonParams are excluded from the idempotency fingerprint: they change on
// every retry of the same logical request.
var commonParams = []string{
	"Action", "Version", "Format", "AccessKeyId", "SecurityToken", "Signature", "SignatureMethod",
	"SignatureVersion", "SignatureNonce", "SignatureType", "Timestamp", "ClientToken",
}

func fingerprint(p params) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		if !slices.Contains(commonParams, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(percentEncode(k) + "=" + percentEncode(p[k]) + "&")
	}
	return b.String()
}

// reserveToken looks up the call's ClientToken. A finished call with the
// same parameters is replayed (result != nil); different parameters are
// IdempotentParameterMismatch; one still in flight is IdempotentProcessing.
// Otherwise the token is reserved (entry, key) until finishToken. Without
// a token nothing is reserved. Callers hold e.mu.
func (e *Emulator) reserveToken(action string, p params) (any, *idemEntry, string, *apiError) {
	tok, aerr := clientToken(p)
	if aerr != nil || tok == "" {
		return nil, nil, "", aerr
	}
	// The emulator is one account: tokens are scoped to it and the action,
	// not to the access key (STS keys rotate between retries).
	key := action + "\x00" + tok
	fp := fingerprint(p)
	if ent, ok := e.idem[key]; ok {
		switch {
		case !ent.done:
			return nil, nil, "", errIdempotentProcessing
		case ent.fingerprint != fp:
			return nil, nil, "", errIdempotentMismatch
		default:
			return ent.result, nil, "", nil
		}
	}
	ent := &idemEntry{fingerprint: fp}
	e.idem[key] = ent
	return nil, ent, key, nil
}

// finishToken records the outcome: a success is kept for replays; a
// failure frees the token so a retry runs again. Callers hold e.mu.
func (e *Emulator) finishToken(key string, ent *idemEntry, result any, aerr *apiError) {
	if ent == nil {
		return
	}
	if aerr != nil {
		delete(e.idem, key)
		return
	}
	ent.done, ent.result = true, result
}
