package job

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// Limits of a request. The command line and the local API check requests
// with the same Validate, so that neither path accepts what the other
// refuses.
const (
	// MaxTriggerLen bounds a trigger name, which becomes a tag value, a
	// metric label and a hook script's ECSSNAP_TRIGGER.
	MaxTriggerLen = 32
	// MaxUserTags leaves the API's 20 tags room for ecssnap's own.
	MaxUserTags = 16
	// MaxRetentionDays is the API's largest RetentionDays.
	MaxRetentionDays = 65536
	// MaxReasonLen bounds the free text kept in the job record; the
	// snapshot description takes the first 256 characters of it.
	MaxReasonLen = 4096
	// MaxMounts bounds --mount paths per request.
	MaxMounts = 64
	// maxMountLen is PATH_MAX.
	maxMountLen = 4096
	// maxDiskIDs bounds the disk IDs of one selection (an instance has at
	// most a few dozen disks).
	maxDiskIDs = 64
)

// The reserved tags a caller may set. TagImportant (ecssnap now
// --important) keeps the job's snapshots under retention's stricter limit;
// it is retention.TagImportant, which this package cannot import.
// TagPackages is what the package-manager hooks say the snapshot was taken
// before (hook.TagPackages). Every other ecssnap: key is ecssnap's to set:
// a caller who could write ecssnap:managed=false, say, would make a
// snapshot that retention and the RAM policy no longer recognise.
const (
	TagImportant = "ecssnap:important"
	TagPackages  = "ecssnap:packages"
)

// ValidTrigger checks a trigger name: a short word of ASCII letters,
// digits, '-' and '_', so that it is safe as a tag value, a Prometheus
// label and a hook script's environment variable.
func ValidTrigger(s string) error {
	if s == "" {
		return errors.New("trigger is empty")
	}
	if len(s) > MaxTriggerLen {
		return fmt.Errorf("trigger %.40q is longer than %d characters", s, MaxTriggerLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("trigger %q: use only letters, digits, '-' and '_'", s)
		}
	}
	return nil
}

// Validate checks a request as the caller wrote it, before defaults are
// applied: what is invalid here is refused whether it came from the
// command line or through the local API.
func (r Request) Validate() error {
	if r.Trigger != "" {
		if err := ValidTrigger(r.Trigger); err != nil {
			return err
		}
	}
	if len(r.Reason) > MaxReasonLen {
		return fmt.Errorf("reason of %d bytes, at most %d", len(r.Reason), MaxReasonLen)
	}
	if !utf8.ValidString(r.Reason) {
		return errors.New("reason is not valid UTF-8")
	}
	if err := validSelection(r.Disks); err != nil {
		return err
	}
	if len(r.Mounts) > MaxMounts {
		return fmt.Errorf("mounts: %d paths, at most %d", len(r.Mounts), MaxMounts)
	}
	for _, m := range r.Mounts {
		if !strings.HasPrefix(m, "/") || len(m) > maxMountLen || strings.ContainsRune(m, 0) {
			return fmt.Errorf("mount %.60q: expected an absolute path", m)
		}
	}
	if r.Timeout < 0 {
		return errors.New("timeout must not be negative")
	}
	if r.RetentionDays != 0 && (r.RetentionDays < 1 || r.RetentionDays > MaxRetentionDays) {
		return fmt.Errorf("retention days %d: must be between 1 and %d", r.RetentionDays, MaxRetentionDays)
	}
	if r.Consistency < LevelDefault || r.Consistency > LevelApp || r.Require < LevelDefault || r.Require > LevelApp {
		return errors.New("unknown consistency level")
	}
	if r.Consistency != LevelDefault && r.Require != LevelDefault && r.Consistency < r.Require {
		return fmt.Errorf("consistency %s is below the required %s", r.Consistency, r.Require)
	}
	return ValidateTags(r.Tags)
}

// ValidateTags checks a request's tags: at most MaxUserTags, each valid
// under the API's rules, no key twice, and no reserved ecssnap: key but
// TagImportant=true and TagPackages.
func ValidateTags(tags []cloud.Tag) error {
	if len(tags) > MaxUserTags+2 {
		return fmt.Errorf("%d tags, at most %d (ecssnap's own tags use the rest of the API's %d)", len(tags), MaxUserTags, maxTags)
	}
	seen := map[string]bool{}
	user := 0
	for _, t := range tags {
		if seen[t.Key] {
			return fmt.Errorf("tag key %q given twice", t.Key)
		}
		seen[t.Key] = true
		switch t.Key {
		case TagImportant:
			if t.Value != "true" {
				return fmt.Errorf("tag %s: only the value true may be set", TagImportant)
			}
			continue
		case TagPackages:
			if err := ValidateUserTag(cloud.Tag{Key: "packages", Value: t.Value}); err != nil {
				return err
			}
			continue
		}
		user++
		if err := ValidateUserTag(t); err != nil {
			return err
		}
	}
	if user > MaxUserTags {
		return fmt.Errorf("%d tags, at most %d (ecssnap's own tags use the rest of the API's %d)", user, MaxUserTags, maxTags)
	}
	return nil
}

// Important reports whether the request asks for its snapshots to be
// kept as important.
func (r Request) Important() bool {
	for _, t := range r.Tags {
		if t.Key == TagImportant && t.Value == "true" {
			return true
		}
	}
	return false
}

// validSelection checks a disk selection's shape.
func validSelection(s plan.Selection) error {
	switch s.Kind {
	case "", "all", "system", "data":
		if len(s.IDs) > 0 {
			return fmt.Errorf("disks: ids given with kind %q; use kind \"ids\"", s.Kind)
		}
	case "ids":
		if len(s.IDs) == 0 {
			return errors.New("disks: kind \"ids\" needs at least one disk ID")
		}
		if len(s.IDs) > maxDiskIDs {
			return fmt.Errorf("disks: %d IDs, at most %d", len(s.IDs), maxDiskIDs)
		}
		for _, id := range s.IDs {
			if !validDiskID(id) {
				return fmt.Errorf("disks: %.40q is not a disk ID like d-bp1...", id)
			}
		}
	default:
		return fmt.Errorf("disks: unknown kind %.20q: expected all, system, data or ids", s.Kind)
	}
	return nil
}

// validDiskID accepts the shape of an ECS disk ID: "d-" and up to 62
// letters and digits.
func validDiskID(id string) bool {
	if !strings.HasPrefix(id, "d-") || len(id) < 3 || len(id) > 64 {
		return false
	}
	for i := 2; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Defaults are the configured values a request that leaves them out gets,
// on every path: the command line, the hooks and the local API.
type Defaults struct {
	// Consistency is the configured desired level (LevelDefault: fs where
	// freezing is possible).
	Consistency Level
	// RetentionDays returns the cloud-side backstop for a trigger (0 keeps
	// the snapshots); nil leaves RetentionDays as it is.
	RetentionDays func(trigger string, important bool) int
}

// Apply fills what r leaves out: the trigger (manual), the desired level
// and the retention days.
func (d Defaults) Apply(r *Request) {
	if r.Trigger == "" {
		r.Trigger = "manual"
	}
	if r.Consistency == LevelDefault {
		r.Consistency = d.Consistency
		// A configured default below the required level would make every
		// request that names only --require fail; the minimum wins.
		if r.Consistency != LevelDefault && r.Consistency < r.Require {
			r.Consistency = r.Require
		}
	}
	if r.RetentionDays == 0 && d.RetentionDays != nil {
		r.RetentionDays = d.RetentionDays(r.Trigger, r.Important())
	}
}
