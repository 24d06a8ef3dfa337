package retention_test

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/retention"
)

// daemonConfig stands in for the daemon's config file, which embeds the
// retention section.
type daemonConfig struct {
	Retention retention.Config `yaml:"retention"`
}

func decode(t *testing.T, doc string) (retention.Config, error) {
	t.Helper()
	cfg := daemonConfig{Retention: retention.DefaultConfig()}
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	err := dec.Decode(&cfg)
	return cfg.Retention, err
}

func TestConfigYAML(t *testing.T) {
	tests := []struct {
		name, doc string
		want      retention.Config
		err       string
	}{
		{name: "empty section keeps the defaults", doc: "retention: {}\n", want: retention.DefaultConfig()},
		{
			name: "a key left out keeps its default",
			doc:  "retention:\n  default:\n    keep_last: 3\n",
			want: retention.Config{Default: retention.Policy{KeepLast: 3, MaxAge: 30 * day}, Important: retention.Policy{KeepLast: 50}},
		},
		{
			name: "triggers inherit from default, 0 lifts a limit",
			doc: `retention:
  default: {keep_last: 4, max_age: 14d}
  triggers:
    apt: {keep_last: 2}
    manual: {max_age: 0}
    cron: {max_age: 36h}
  important: {max_age: 365d}
`,
			want: retention.Config{
				Default: retention.Policy{KeepLast: 4, MaxAge: 14 * day},
				Triggers: map[string]retention.Policy{
					"apt":    {KeepLast: 2, MaxAge: 14 * day},
					"manual": {KeepLast: 4},
					"cron":   {KeepLast: 4, MaxAge: 36 * time.Hour},
				},
				Important: retention.Policy{KeepLast: 50, MaxAge: 365 * day},
			},
		},
		{name: "unknown key", doc: "retention:\n  default: {keep_lst: 3}\n", err: `unknown key "keep_lst"`},
		{name: "unknown section key", doc: "retention:\n  defaults: {}\n", err: `unknown key "defaults"`},
		{name: "age without unit", doc: "retention:\n  default: {max_age: 30}\n", err: "max_age \"30\""},
		{name: "age in weeks", doc: "retention:\n  default: {max_age: 2w}\n", err: "max_age \"2w\""},
		{name: "negative age", doc: "retention:\n  triggers: {apt: {max_age: -1h}}\n", err: "retention.triggers.apt.max_age"},
		{name: "negative count", doc: "retention:\n  important: {keep_last: -1}\n", err: "retention.important.keep_last is -1"},
		{name: "count not a number", doc: "retention:\n  default: {keep_last: ten}\n", err: "keep_last"},
		{name: "policy not a mapping", doc: "retention:\n  default: 5\n", err: "policy must be a mapping"},
		{name: "too many days", doc: "retention:\n  default: {max_age: 99999999d}\n", err: "max_age"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode(t, tt.doc)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decoded %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestConfigYAMLRoundTrip(t *testing.T) {
	in := retention.Config{
		Default:   retention.Policy{KeepLast: 7, MaxAge: 30 * day},
		Triggers:  map[string]retention.Policy{"apt": {KeepLast: 2, MaxAge: 90 * time.Minute}},
		Important: retention.Policy{KeepLast: 50},
	}
	out, err := yaml.Marshal(daemonConfig{Retention: in})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "max_age: 30d") {
		t.Errorf("marshalled:\n%s\nwant max_age in days", out)
	}
	back, err := decode(t, string(out))
	if err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if !reflect.DeepEqual(back, in) {
		t.Errorf("round trip gave %+v, want %+v", back, in)
	}
}

func TestDefaults(t *testing.T) {
	cfg := retention.DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if p := cfg.PolicyFor("apt", false); p.KeepLast != 10 || p.MaxAge != 30*day {
		t.Errorf("default policy %+v, want keep 10 for 30 days", p)
	}
	if p := cfg.PolicyFor("apt", true); p.KeepLast != 50 || p.MaxAge != 0 {
		t.Errorf("important policy %+v, want keep 50, no age limit", p)
	}
	if retention.DefaultManualSnapshotQuota != 256 {
		t.Errorf("quota %d", retention.DefaultManualSnapshotQuota)
	}
}

func TestRetentionDays(t *testing.T) {
	cfg := retention.Config{
		Default:   retention.Policy{MaxAge: 30 * day},
		Triggers:  map[string]retention.Policy{"hourly": {MaxAge: 36 * time.Hour}, "forever": {KeepLast: 3}},
		Important: retention.Policy{KeepLast: 50},
	}
	for _, tt := range []struct {
		trigger   string
		important bool
		want      int
	}{
		{"apt", false, 37},
		{"hourly", false, 9}, // 1.5 days rounds up, plus a week
		{"forever", false, 0},
		{"apt", true, 0},
	} {
		if got := cfg.RetentionDays(tt.trigger, tt.important); got != tt.want {
			t.Errorf("RetentionDays(%q, %v) = %d, want %d", tt.trigger, tt.important, got, tt.want)
		}
	}
	for _, age := range []time.Duration{200 * 365 * day, math.MaxInt64} {
		long := retention.Config{Default: retention.Policy{MaxAge: age}}
		if got := long.RetentionDays("x", false); got != 65536 {
			t.Errorf("RetentionDays of max age %v = %d, want the API's 65536", age, got)
		}
	}
}

// The tags retention reads must be the ones the job engine writes.
func TestTagsMatchTheJobEngine(t *testing.T) {
	s := cloud.Snapshot{ID: "s-1", Status: cloud.StatusAccomplished, Created: now.Add(-40 * day),
		Tags: map[string]string{job.TagManaged: "true", job.TagJob: "j-1", job.TagTrigger: "apt"}}
	got := retention.Plan([]cloud.Snapshot{s}, nil, retention.DefaultConfig(), now)
	if len(got) != 1 || got[0].Job != "j-1" || got[0].Trigger != "apt" {
		t.Errorf("a 40-day-old snapshot tagged the way pkg/job tags: Plan = %+v, want it pruned", got)
	}
}

// FuzzConfigYAML: any document either fails to decode or yields a valid
// config that survives a round trip unchanged.
func FuzzConfigYAML(f *testing.F) {
	for _, seed := range []string{
		"retention: {}\n",
		"retention:\n  default: {keep_last: 4, max_age: 14d}\n  triggers:\n    apt: {keep_last: 2}\n",
		"retention:\n  important: {max_age: 90m}\n",
		"retention:\n  default: {max_age: -3d}\n",
		"retention:\n  triggers: {x: 5}\n",
		"retention:\n  default: {max_age: 2400000h}\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		cfg, err := decode(t, doc)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("decoded an invalid config %+v: %v", cfg, err)
		}
		out, err := yaml.Marshal(daemonConfig{Retention: cfg})
		if err != nil {
			t.Fatal(err)
		}
		back, err := decode(t, string(out))
		if err != nil || !reflect.DeepEqual(back, cfg) {
			t.Fatalf("round trip of %+v through\n%s\ngave %+v, %v", cfg, out, back, err)
		}
	})
}

// The job package validates requests against the important tag's key; it
// cannot import this package, so the two constants are checked here.
func TestImportantTagKeyMatchesJob(t *testing.T) {
	if retention.TagImportant != job.TagImportant {
		t.Errorf("retention.TagImportant %q != job.TagImportant %q", retention.TagImportant, job.TagImportant)
	}
}
