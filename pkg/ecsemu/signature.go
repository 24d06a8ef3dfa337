package ecsemu

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"slices"
	"strings"
)

// percentEncode escapes everything but the RFC 3986 unreserved characters
// (A-Z a-z 0-9 - _ . ~), with upper-case hex: the RPC V1 canonical form.
// Space is %20, never "+".
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// StringToSign builds the RPC signature V1 string to sign: METHOD&%2F& and
// the percent-encoded, key-sorted "k=v&..." of every parameter except
// Signature (empty values included).
func StringToSign(method string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var canon strings.Builder
	for i, k := range keys {
		if i > 0 {
			canon.WriteByte('&')
		}
		canon.WriteString(percentEncode(k))
		canon.WriteByte('=')
		canon.WriteString(percentEncode(params[k]))
	}
	return method + "&" + percentEncode("/") + "&" + percentEncode(canon.String())
}

// SignParams returns the RPC V1 signature of params for method:
// base64(HMAC-SHA1(secret + "&", StringToSign)).
func SignParams(method string, params map[string]string, secret string) string {
	return signString(StringToSign(method, params), secret)
}

func signString(stringToSign, secret string) string {
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// verifySignature checks params["Signature"] and returns the server's
// string to sign for the mismatch message.
func verifySignature(method string, params map[string]string, secret string) (bool, string) {
	sts := StringToSign(method, params)
	want := signString(sts, secret)
	got := params["Signature"]
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1, sts
}
