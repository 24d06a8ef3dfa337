package imds

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// The shapes of what the metadata service returns for an instance's
// identity (REFERENCE section 1 and section 3's ID prefixes). Anything else
// at the metadata address is not the metadata service: a captive portal's
// HTML page, a web server's 404, an empty answer. Taking such an answer as
// an instance ID used to fail much later and obscurely ("regionId contains
// invalid characters" from the SDK), so the shapes are checked here. They
// are compiled on first use, not at every start of the program (a hook's
// included), most of which never reads the identity from the service.
var (
	// i- then lowercase letters and digits (i-bp1..., i-t4n..., older
	// short IDs like i-23abc).
	instanceIDShape = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^i-[0-9a-z]{2,40}$`) })
	// cn-hangzhou, ap-southeast-1, cn-shanghai-finance-1.
	regionShape = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]{2,}(-[0-9a-z]+){1,4}$`) })
	// A zone is its region followed by a letter or two, with or without a
	// dash: cn-hangzhou-h, ap-southeast-1a.
	zoneSuffixShape = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^-?[0-9a-z]{1,4}$`) })
)

// maxTokenLen bounds a token we accept: real ones are a few dozen bytes.
const maxTokenLen = 1024

// badAnswer is an answer the metadata service never gives: the client is
// not talking to it. Error reads as what "it answered".
type badAnswer struct {
	Item   string // what was asked for: "the token", "instance-id", ...
	Answer string // the body that came back
	Status string // instead of Answer: an HTTP status ("404 Not Found")
	Note   string // what is wrong, when Answer alone does not say
}

func (e *badAnswer) Error() string {
	what := quoteStart(e.Answer)
	switch {
	case e.Status != "":
		what = e.Status
	case e.Answer == "":
		what = "an empty answer"
	}
	s := what + " for " + e.Item
	if e.Note != "" {
		s += ", " + e.Note
	}
	return s
}

// quoteStart quotes the start of s, enough to recognise an HTML page.
func quoteStart(s string) string {
	const n = 40
	r := []rune(s)
	if len(r) > n {
		return fmt.Sprintf("%q...", string(r[:n]))
	}
	return fmt.Sprintf("%q", s)
}

// checkToken returns an error unless token could be a metadata token: a
// non-empty, printable, space-free string (it travels as a header value).
func checkToken(token string) error {
	if token == "" {
		return &badAnswer{Item: "the token"}
	}
	if len(token) > maxTokenLen || strings.ContainsAny(token, "<>") ||
		strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		return &badAnswer{Item: "the token", Answer: token}
	}
	return nil
}

// checkIdentity returns an error unless id has the shapes of a real
// instance's identity.
func checkIdentity(id Identity) error {
	switch {
	case !instanceIDShape().MatchString(id.InstanceID):
		return &badAnswer{Item: "instance-id", Answer: id.InstanceID}
	case !regionShape().MatchString(id.RegionID):
		return &badAnswer{Item: "region-id", Answer: id.RegionID}
	case !strings.HasPrefix(id.ZoneID, id.RegionID) || !zoneSuffixShape().MatchString(strings.TrimPrefix(id.ZoneID, id.RegionID)):
		return &badAnswer{Item: "zone-id", Answer: id.ZoneID, Note: "not a zone of region " + id.RegionID}
	}
	return nil
}
