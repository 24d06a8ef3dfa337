package job

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ecssnap/ecssnap/pkg/cloud"
)

// Tag keys on every snapshot and group ecssnap creates. Retention deletes
// only what carries TagManaged.
const (
	TagManaged     = "ecssnap:managed"
	TagJob         = "ecssnap:job"
	TagTrigger     = "ecssnap:trigger"
	TagConsistency = "ecssnap:consistency"
	TagDevice      = "ecssnap:device"
	// TagInconsistent marks snapshots of a multi-disk filesystem taken at
	// different moments, accepted with --allow-inconsistent.
	TagInconsistent = "ecssnap:inconsistent"
)

// API limits on names, descriptions and tags (REFERENCE section 3).
const (
	maxNameLen        = 128
	maxDescriptionLen = 256
	maxTagKeyLen      = 128
	maxTagValueLen    = 128
	maxTags           = 20
	maxClientToken    = 64
)

// NewID returns a job ID: sortable by time, unique by 4 random bytes.
func NewID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "j-" + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// SnapshotName builds a snapshot or group name valid under the API rules
// whatever the trigger: it starts with a letter, uses only letters, digits
// and ":_-.", never starts with "auto" or "http", and is 2..128 characters.
func SnapshotName(trigger string, at time.Time, suffix string) string {
	parts := []string{"ecssnap", sanitizeName(trigger), at.UTC().Format("20060102-150405")}
	if suffix != "" {
		parts = append(parts, sanitizeName(suffix))
	}
	name := strings.Join(nonEmpty(parts), "-")
	return truncate(name, maxNameLen)
}

func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)), r == ':', r == '_', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return strings.Trim(b.String(), "_")
}

// Description builds a description from free text (a reason, an apt command
// line): control characters flattened, 2..256 characters, never starting
// with http:// or https:// (the API refuses those).
func Description(reason string) string {
	var b strings.Builder
	b.WriteString("ecssnap")
	if r := strings.TrimSpace(flatten(reason)); r != "" {
		b.WriteString(": ")
		b.WriteString(r)
	}
	return truncate(b.String(), maxDescriptionLen)
}

// flatten replaces control characters and invalid UTF-8 with spaces.
func flatten(s string) string {
	s = strings.ToValidUTF8(s, " ")
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// truncate cuts s to at most n characters (not bytes: the API counts characters).
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// TagValue makes free text a valid tag value (at most 128 characters).
func TagValue(s string) string { return truncate(strings.TrimSpace(flatten(s)), maxTagValueLen) }

// ValidateUserTag checks a --tag against the API's rules, with a message
// that names the rule broken.
func ValidateUserTag(t cloud.Tag) error {
	lower := strings.ToLower(t.Key)
	switch {
	case t.Key == "":
		return fmt.Errorf("tag key is empty")
	case utf8.RuneCountInString(t.Key) > maxTagKeyLen:
		return fmt.Errorf("tag key %q is longer than %d characters", t.Key, maxTagKeyLen)
	case strings.HasPrefix(lower, "aliyun") || strings.HasPrefix(lower, "acs:"):
		return fmt.Errorf("tag key %q: keys may not start with aliyun or acs:", t.Key)
	case strings.HasPrefix(lower, "ecssnap:"):
		return fmt.Errorf("tag key %q: the ecssnap: prefix is reserved for ecssnap's own tags", t.Key)
	case strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://"):
		return fmt.Errorf("tag key %q may not start with http:// or https://", t.Key)
	case utf8.RuneCountInString(t.Value) > maxTagValueLen:
		return fmt.Errorf("tag value for %q is longer than %d characters", t.Key, maxTagValueLen)
	}
	return nil
}

// ClientToken derives the idempotency token of one create from the job and
// the thing created, so a job resumed after a crash repeats the same token.
func ClientToken(jobID, what string) string {
	tok := jobID + "-" + what
	if len(tok) <= maxClientToken && isASCII(tok) {
		return tok
	}
	sum := sha256.Sum256([]byte(tok))
	return "ecssnap-" + hex.EncodeToString(sum[:])[:maxClientToken-len("ecssnap-")]
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || s[i] < 0x21 {
			return false
		}
	}
	return true
}

func nonEmpty(parts []string) []string {
	out := parts[:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}
