package ecsemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tag is one key/value pair; lists of tags keep request order.
type tag struct{ Key, Value string }

const maxTagsPerRequest = 20

// snapshotName validates a snapshot (or, with allowAuto, group) name: 2 to
// 128 characters, starting with a letter, made of letters, digits and
// ":_-.", and not starting with "auto" (reserved for automatic snapshots).
// Empty means "not given".
func validName(name string, allowAuto bool) bool {
	if name == "" {
		return true
	}
	n := utf8.RuneCountInString(name)
	if n < 2 || n > 128 || !utf8.ValidString(name) {
		return false
	}
	first, _ := utf8.DecodeRuneInString(name)
	if !unicode.IsLetter(first) {
		return false
	}
	if !allowAuto && strings.HasPrefix(name, "auto") {
		return false
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(":_-.", r) {
			return false
		}
	}
	return true
}

// validDescription: 2 to 256 characters, not starting with http(s)://.
func validDescription(d string) bool {
	if d == "" {
		return true
	}
	n := utf8.RuneCountInString(d)
	return utf8.ValidString(d) && n >= 2 && n <= 256 && !hasURLPrefix(d)
}

func hasURLPrefix(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// tagsFor reads Tag.N.Key/Tag.N.Value (N = 1..20). With strict, keys and
// values must be settable by a user: key 1..128 characters, not starting
// with "aliyun" or "acs:", no URL; value at most 128 characters, no URL.
// Filters (Describe*) use strict=false, so system tags can be matched.
func tagsFor(p params, strict bool) ([]tag, *apiError) {
	seen := map[string]bool{}
	var out []tag
	for k := range p {
		rest, ok := strings.CutPrefix(k, "Tag.")
		if !ok {
			continue
		}
		num, field, ok := strings.Cut(rest, ".")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || (field != "Key" && field != "Value") {
			return nil, errInvalidParameter(k)
		}
		if n < 1 || n > maxTagsPerRequest {
			return nil, errTagCount
		}
	}
	for n := 1; n <= maxTagsPerRequest; n++ {
		key, hasKey := p[fmt.Sprintf("Tag.%d.Key", n)]
		value, hasValue := p[fmt.Sprintf("Tag.%d.Value", n)]
		if !hasKey && !hasValue {
			continue
		}
		if !hasKey || key == "" {
			return nil, errTagKey
		}
		if strict {
			if utf8.RuneCountInString(key) > 128 || strings.HasPrefix(key, "aliyun") ||
				strings.HasPrefix(key, "acs:") || strings.Contains(key, "http://") || strings.Contains(key, "https://") {
				return nil, errTagKey
			}
			if utf8.RuneCountInString(value) > 128 || strings.Contains(value, "http://") || strings.Contains(value, "https://") {
				return nil, errTagValue
			}
		}
		if seen[key] {
			return nil, newErr(http.StatusBadRequest, "InvalidTagKey.Duplicated", "The specified Tag.n.Key %q is repeated.", key)
		}
		seen[key] = true
		out = append(out, tag{Key: key, Value: value})
	}
	return out, nil
}

// tagsMatch reports whether have carries every filter tag; a filter with an
// empty value matches any value of its key.
func tagsMatch(have map[string]string, filter []tag) bool {
	for _, f := range filter {
		v, ok := have[f.Key]
		if !ok || (f.Value != "" && v != f.Value) {
			return false
		}
	}
	return true
}

// retentionDays reads RetentionDays: absent = 0 (keep forever), else 1..65536.
func retentionDays(p params) (int, *apiError) {
	v, ok := p["RetentionDays"]
	if !ok || v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65536 {
		return 0, errRetentionDays
	}
	return n, nil
}

// createCommon checks the parameters CreateDisk and CreateImage both take
// after their name, in the order the API checks them: Description, Tag.N
// (strict) and ClientToken. It returns the tags.
func createCommon(p params) ([]tag, *apiError) {
	if !validDescription(p["Description"]) {
		return nil, errDescription
	}
	tags, aerr := tagsFor(p, true)
	if aerr != nil {
		return nil, aerr
	}
	if _, aerr := clientToken(p); aerr != nil {
		return nil, aerr
	}
	return tags, nil
}

// clientToken reads ClientToken: printable ASCII, at most 64 characters.
func clientToken(p params) (string, *apiError) {
	t := p["ClientToken"]
	if len(t) > 64 {
		return "", errClientToken
	}
	for i := 0; i < len(t); i++ {
		if t[i] < 0x20 || t[i] > 0x7e {
			return "", errClientToken
		}
	}
	return t, nil
}

// idList reads a parameter holding a JSON array of IDs ("[\"d-1\",\"d-2\"]"),
// at most max of them. Absent or empty means no filter (nil).
func idList(p params, name string, max int) ([]string, *apiError) {
	v, ok := p[name]
	if !ok || v == "" {
		return nil, nil
	}
	var ids []string
	if err := json.Unmarshal([]byte(v), &ids); err != nil || len(ids) > max {
		return nil, errMalformed(name)
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

// oneOf reads an enumerated parameter; empty means def.
func oneOf(p params, name, def string, allowed ...string) (string, *apiError) {
	v := p[name]
	if v == "" {
		return def, nil
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a, nil
		}
	}
	return "", errInvalidParameter(name)
}

// intParam reads an optional integer parameter.
func intParam(p params, name string) (int, bool, *apiError) {
	v, ok := p[name]
	if !ok || v == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, false, errInvalidParameter(name)
	}
	return n, true, nil
}
