package cli

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// printable returns s with every character that could act on a terminal
// (C0 and C1 controls, DEL, line and paragraph separators, bidirectional
// overrides, invalid UTF-8) written as a Go escape, newlines and tabs
// included: a job's reason or trigger is written by whoever asked for the
// job, and `ecssnap list` and `show` print it on root's terminal, where an
// escape sequence could forge a line, clear the screen or retitle the
// window.
func printable(s string) string {
	if !needsEscape(s, false) {
		return s
	}
	var b strings.Builder
	escapeTo(&b, s, false)
	return b.String()
}

func dangerous(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' ||
		(r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') || r == '\u200e' || r == '\u200f'
}

func needsEscape(s string, keepLayout bool) bool {
	for _, r := range s {
		if r == utf8.RuneError || (dangerous(r) && !(keepLayout && (r == '\n' || r == '\t'))) {
			return true
		}
	}
	return false
}

func escapeTo(b *strings.Builder, s string, keepLayout bool) {
	for i, w := 0, 0; i < len(s); i += w {
		r, size := utf8.DecodeRuneInString(s[i:])
		w = size
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(b, `\x%02x`, s[i])
		case keepLayout && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case dangerous(r) && r < 0x80:
			fmt.Fprintf(b, `\x%02x`, r)
		case dangerous(r):
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
}

// safeWriter escapes what could act on a terminal in everything written
// through it but keeps newlines and tabs: the second line of defence for
// human output assembled from recorded jobs (cloud error messages, device
// names), behind printable on the fields callers write.
type safeWriter struct{ w io.Writer }

func (s safeWriter) Write(p []byte) (int, error) {
	str := string(p)
	if !needsEscape(str, true) {
		return s.w.Write(p)
	}
	var b strings.Builder
	escapeTo(&b, str, true)
	if _, err := io.WriteString(s.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}
