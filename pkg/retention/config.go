package retention

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// Policy bounds how many jobs of one kind are kept and for how long. A zero
// field means no limit of that kind.
type Policy struct {
	KeepLast int           `yaml:"keep_last"`
	MaxAge   time.Duration `yaml:"max_age"` // in YAML: "30d", "720h", or 0
}

// Config is the retention section of the daemon's configuration.
type Config struct {
	// Default applies to every trigger not listed in Triggers.
	Default Policy `yaml:"default"`
	// Triggers overrides Default per ecssnap:trigger tag value. In YAML a
	// trigger's omitted keys inherit Default's.
	Triggers map[string]Policy `yaml:"triggers,omitempty"`
	// Important alone decides about jobs tagged ecssnap:important=true.
	Important Policy `yaml:"important"`
}

// Defaults, documented in the package comment.
const (
	DefaultKeepLast            = 10
	DefaultMaxAge              = 30 * day
	DefaultImportantKeepLast   = 50
	DefaultManualSnapshotQuota = 256
)

const day = 24 * time.Hour

// maxRetentionDays is the API's upper bound on RetentionDays.
const maxRetentionDays = 65536

// backstopMargin is how much longer than max_age the cloud keeps a
// snapshot: the backstop should only act when ecssnap has stopped pruning.
const backstopMargin = 7 * day

// DefaultConfig returns the safe defaults: per trigger the 10 newest jobs,
// none older than 30 days; the 50 newest important jobs, however old.
func DefaultConfig() Config {
	return Config{
		Default:   Policy{KeepLast: DefaultKeepLast, MaxAge: DefaultMaxAge},
		Important: Policy{KeepLast: DefaultImportantKeepLast},
	}
}

// PolicyFor returns the policy of a job with this trigger.
func (c Config) PolicyFor(trigger string, important bool) Policy {
	if important {
		return c.Important
	}
	if p, ok := c.Triggers[trigger]; ok {
		return p
	}
	return c.Default
}

// Validate rejects negative limits.
func (c Config) Validate() error {
	var errs []error
	check := func(name string, p Policy) {
		if p.KeepLast < 0 {
			errs = append(errs, fmt.Errorf("retention.%s.keep_last is %d: use 0 for no limit", name, p.KeepLast))
		}
		if p.MaxAge < 0 {
			errs = append(errs, fmt.Errorf("retention.%s.max_age is %v: use 0 for no limit", name, p.MaxAge))
		}
	}
	check("default", c.Default)
	check("important", c.Important)
	for _, name := range slices.Sorted(maps.Keys(c.Triggers)) {
		check("triggers."+name, c.Triggers[name])
	}
	return errors.Join(errs...)
}

// RetentionDays is the cloud-side backstop for a per-disk snapshot of a new
// job: its policy's max age plus a week, so the cloud deletes it only if
// ecssnap stopped pruning. 0 (keep until deleted) when the policy has no
// age limit. Groups have no RetentionDays in the API.
func (c Config) RetentionDays(trigger string, important bool) int {
	p := c.PolicyFor(trigger, important)
	if p.MaxAge <= 0 {
		return 0
	}
	// In days first: a huge max age plus the margin would overflow.
	days := int64(p.MaxAge / day)
	if p.MaxAge%day != 0 {
		days++
	}
	return int(min(days+int64(backstopMargin/day), maxRetentionDays))
}

// UnmarshalYAML overlays the keys present on c, so decoding into
// DefaultConfig() keeps the defaults of everything left out, and a
// trigger's policy starts from Default. Unknown keys are errors.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	fields, err := mapping(n, "retention", "default", "triggers", "important")
	if err != nil {
		return err
	}
	if f := fields["default"]; f != nil {
		if err := f.Decode(&c.Default); err != nil {
			return fmt.Errorf("retention.default: %w", err)
		}
	}
	if f := fields["important"]; f != nil {
		if err := f.Decode(&c.Important); err != nil {
			return fmt.Errorf("retention.important: %w", err)
		}
	}
	if f := fields["triggers"]; f != nil {
		var raw map[string]yaml.Node
		if err := f.Decode(&raw); err != nil {
			return fmt.Errorf("retention.triggers: %w", err)
		}
		if c.Triggers == nil && len(raw) > 0 {
			c.Triggers = make(map[string]Policy, len(raw))
		}
		for name, node := range raw {
			p, ok := c.Triggers[name]
			if !ok {
				p = c.Default
			}
			if err := node.Decode(&p); err != nil {
				return fmt.Errorf("retention.triggers.%s: %w", name, err)
			}
			c.Triggers[name] = p
		}
	}
	return c.Validate()
}

// UnmarshalYAML overlays the keys present on p and reads max_age as a Go
// duration ("720h") or a number of days ("30d").
func (p *Policy) UnmarshalYAML(n *yaml.Node) error {
	fields, err := mapping(n, "policy", "keep_last", "max_age")
	if err != nil {
		return err
	}
	if f := fields["keep_last"]; f != nil {
		if err := f.Decode(&p.KeepLast); err != nil {
			return fmt.Errorf("keep_last: %w", err)
		}
	}
	if f := fields["max_age"]; f != nil {
		d, err := parseAge(f.Value)
		if f.Kind != yaml.ScalarNode || err != nil {
			return fmt.Errorf("max_age %q: want a duration such as 30d or 720h, or 0", f.Value)
		}
		p.MaxAge = d
	}
	return nil
}

// MarshalYAML writes max_age in days when it is a whole number of them.
func (p Policy) MarshalYAML() (any, error) {
	return struct {
		KeepLast int    `yaml:"keep_last"`
		MaxAge   string `yaml:"max_age"`
	}{p.KeepLast, formatAge(p.MaxAge)}, nil
}

var daysRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\d+)d$`) })

// parseAge reads "30d", a Go duration or "0".
func parseAge(s string) (time.Duration, error) {
	if m := daysRE().FindStringSubmatch(s); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n > math.MaxInt64/int64(day) {
			return 0, fmt.Errorf("%q: too many days", s)
		}
		return time.Duration(n) * day, nil
	}
	return time.ParseDuration(s)
}

func formatAge(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}

// mapping returns the values of a YAML mapping by key, refusing keys not
// listed (yaml.v3's KnownFields does not reach into custom unmarshalers).
func mapping(n *yaml.Node, what string, keys ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: %s must be a mapping", n.Line, what)
	}
	out := make(map[string]*yaml.Node, len(keys))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !slices.Contains(keys, k.Value) {
			return nil, fmt.Errorf("line %d: unknown key %q in %s", k.Line, k.Value, what)
		}
		out[k.Value] = n.Content[i+1]
	}
	return out, nil
}
