package daemon

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Metric label values must stay few (each is a time series) and must not
// break the text format, whose parser rejects the whole file for one bad
// line. Triggers are validated names, but any caller may invent one, so
// only the well-known ones become labels; error codes come from the cloud
// and are bounded by count.
var knownTriggers = map[string]bool{
	"manual": true, "apt": true, "dnf": true, "yum": true, "zypper": true, "pacman": true,
	"pre-upgrade": true, "script": true, "scheduled": true, "api": true,
}

// otherLabel stands for every value beyond the bounded set.
const otherLabel = "other"

// maxErrorCodes bounds the error-code label's values.
const maxErrorCodes = 32

// triggerLabel is the trigger's label value.
func triggerLabel(t string) string {
	if knownTriggers[t] {
		return t
	}
	return otherLabel
}

// outcomeLabel bounds the outcome (set by the engine, so this is a guard).
func outcomeLabel(o string) string {
	switch o {
	case "succeeded", "failed", "partial", "created", "timed-out", "interrupted", "degraded", "planned":
		return o
	}
	return otherLabel
}

// escapeLabel escapes a label value as the Prometheus text format says:
// backslash, double quote and line feed. %q would write Go escapes (\u2028,
// \x1b) that the format does not know.
// Other control characters and line separators are valid there but
// break line-oriented tools reading the file, so they become '_'.
func escapeLabel(v string) string {
	v = strings.Map(func(r rune) rune {
		if r != '\n' && (unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError) {
			return '_'
		}
		return r
	}, v)
	return labelEscaper.Replace(v)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
