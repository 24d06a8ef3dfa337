package hook

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Policy modes: what a failed snapshot does to the transaction.
const (
	// FailClosed stops the transaction (the hook exits 1).
	FailClosed = "fail-closed"
	// FailOpen lets the transaction go on after a loud warning.
	FailOpen = "fail-open"
)

// Values of Policy.InChroot and Policy.InContainer.
const (
	Skip      = "skip" // no snapshot (the default)
	RunAnyway = "run"  // snapshot as anywhere else
)

// Keys of Policy.Mode besides trigger names.
const (
	Interactive = "interactive" // someone watches: a terminal, no unattended frontend
	Unattended  = "unattended"  // unattended-upgrades, dnf-automatic, cron, services, ...
)

// Policy is what the configuration says the hooks do: the package_hooks
// section of the configuration file.
type Policy struct {
	// Mode maps a trigger ("apt", "dnf", ...), "<trigger>.interactive",
	// "<trigger>.unattended", "interactive" or "unattended" to FailClosed
	// or FailOpen. The most specific key wins, in that order:
	// "apt.unattended", "apt", "unattended"; without any, interactive runs
	// fail closed and unattended runs fail open.
	Mode map[string]string `yaml:"policy"`
	// WaitCompleted makes the hook wait until every snapshot is
	// accomplished, not just created.
	WaitCompleted bool `yaml:"wait_completed"`
	// InChroot and InContainer: Skip (the default, also for "") or
	// RunAnyway.
	InChroot    string `yaml:"in_chroot"`
	InContainer string `yaml:"in_container"`
}

// DefaultPolicy is the policy without configuration: fail closed when
// someone watches, fail open for unattended runs, skip chroots and
// containers.
func DefaultPolicy() Policy {
	return Policy{
		Mode:     map[string]string{Interactive: FailClosed, Unattended: FailOpen},
		InChroot: Skip, InContainer: Skip,
	}
}

// Validate reports every value the hooks would not understand, for the
// configuration loader; the hooks themselves ignore such values.
func (p Policy) Validate() error {
	var errs []error
	keys := make([]string, 0, len(p.Mode))
	for k := range p.Mode {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := p.Mode[k]; v != FailClosed && v != FailOpen {
			errs = append(errs, fmt.Errorf("package_hooks.policy %q: %q is neither %s nor %s", k, v, FailClosed, FailOpen))
		}
		if !validModeKey(k) {
			errs = append(errs, fmt.Errorf("package_hooks.policy %q: want a trigger (%s), optionally with .%s or .%s, or %s or %s alone",
				k, strings.Join(Triggers, ", "), Interactive, Unattended, Interactive, Unattended))
		}
	}
	for _, s := range []struct{ name, v string }{{"in_chroot", p.InChroot}, {"in_container", p.InContainer}} {
		if s.v != "" && s.v != Skip && s.v != RunAnyway {
			errs = append(errs, fmt.Errorf("package_hooks.%s: %q is neither %s nor %s", s.name, s.v, Skip, RunAnyway))
		}
	}
	return errors.Join(errs...)
}

// Triggers are the triggers the hooks' jobs carry: dnf5 asks as dnf.
var Triggers = []string{"apt", "dnf", "yum", "zypper", "pacman"}

// validModeKey reports whether k names a trigger, an attendance, or both.
func validModeKey(k string) bool {
	trigger, attendance, dotted := strings.Cut(k, ".")
	if !dotted {
		return k == Interactive || k == Unattended || slices.Contains(Triggers, k)
	}
	return slices.Contains(Triggers, trigger) && (attendance == Interactive || attendance == Unattended)
}

// ModeFor is the mode for a trigger run interactively or unattended.
func (p Policy) ModeFor(trigger string, unattended bool) string {
	attendance := Interactive
	if unattended {
		attendance = Unattended
	}
	for _, key := range []string{trigger + "." + attendance, trigger, attendance} {
		if v := strings.TrimSpace(p.Mode[key]); v == FailClosed || v == FailOpen {
			return v
		}
	}
	if unattended {
		return FailOpen
	}
	return FailClosed
}

// runs reports whether a Skip/Run setting says to snapshot.
func runs(setting string) bool { return strings.TrimSpace(setting) == RunAnyway }
