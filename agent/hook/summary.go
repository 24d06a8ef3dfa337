package hook

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ecssnap/ecssnap/pkg/job"
)

// Package actions, in the order summaries list them.
const (
	ActionInstall   = "install"
	ActionUpgrade   = "upgrade"
	ActionDowngrade = "downgrade"
	ActionReinstall = "reinstall"
	ActionRemove    = "remove"
	ActionConfigure = "configure"
	// ActionChange is a package the transaction touches in a way the
	// package manager did not say (pacman targets, unknown actions).
	ActionChange = "change"
)

var actionOrder = []string{ActionInstall, ActionUpgrade, ActionDowngrade, ActionReinstall, ActionRemove, ActionConfigure, ActionChange}

// actionWords are how summaries name each action's count.
var actionWords = map[string]string{
	ActionInstall: "to install", ActionUpgrade: "to upgrade", ActionDowngrade: "to downgrade",
	ActionReinstall: "to reinstall", ActionRemove: "to remove", ActionConfigure: "to configure",
	ActionChange: "to change",
}

// Change is one package a transaction installs, upgrades, removes, ...
type Change struct {
	Action string
	Name   string
	Arch   string
	From   string // the version replaced or removed, if any
	To     string // the version installed, if any
}

// Limits of what the hook writes into the job.
const (
	maxReasonRunes = 240 // the description is "ecssnap: " + reason, at most 256
	maxTagRunes    = 128 // the API's tag value limit
	namesInReason  = 5
)

// String is the change as the job record lists it, e.g.
// "upgrade openssl:amd64 3.0.11 -> 3.0.13".
func (c Change) String() string {
	s := c.Action + " " + c.Name
	if c.Arch != "" {
		s += ":" + c.Arch
	}
	switch {
	case c.From != "" && c.To != "":
		s += " " + c.From + " -> " + c.To
	case c.To != "":
		s += " " + c.To
	case c.From != "":
		s += " " + c.From
	}
	return s
}

// TagPackages is the summary tag on the hooks' snapshots.
const TagPackages = job.TagPackages

// counts is the number of changes per action, e.g. "3 to upgrade, 1 to
// install".
func counts(changes []Change) string {
	n := map[string]int{}
	for _, c := range changes {
		n[c.Action]++
	}
	var parts []string
	for _, a := range actionOrder {
		if n[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[a], actionWords[a]))
		}
	}
	return strings.Join(parts, ", ")
}

// names lists package names in transaction order, each once.
func names(changes []Change) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range changes {
		if !seen[c.Name] {
			seen[c.Name] = true
			out = append(out, c.Name)
		}
	}
	return out
}

// reason is the job's reason and the snapshots' description: the command
// line first, then what it changes.
func reason(cmdline string, changes []Change) string {
	r := strings.TrimSpace(cmdline)
	if len(changes) > 0 {
		detail := counts(changes) + ": " + fitNames(names(changes), namesInReason, maxReasonRunes)
		if r == "" {
			r = detail
		} else {
			r += " (" + detail + ")"
		}
	}
	return cutRunes(r, maxReasonRunes)
}

// summaryTag is the TagPackages value: counts and as many names as fit in
// the API's 128 characters.
func summaryTag(changes []Change) string {
	c := counts(changes)
	return cutRunes(c+": "+fitNames(names(changes), len(changes), maxTagRunes-utf8.RuneCountInString(c)-2), maxTagRunes)
}

// fitNames joins up to max names in at most budget characters, saying how
// many were left out.
func fitNames(list []string, max, budget int) string {
	var b strings.Builder
	for i, n := range list {
		more := ""
		if rest := len(list) - i - 1; rest > 0 {
			more = fmt.Sprintf(" +%d more", rest)
		}
		sep := ""
		if i > 0 {
			sep = " "
		}
		if i >= max || utf8.RuneCountInString(b.String()+sep+n+more) > budget {
			if i == 0 {
				return fmt.Sprintf("+%d", len(list))
			}
			return b.String() + fmt.Sprintf(" +%d more", len(list)-i)
		}
		b.WriteString(sep + n)
	}
	return b.String()
}

// cutRunes cuts s to n characters.
func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
