package job

import (
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// One validation for the command line and the local API.
func TestRequestValidate(t *testing.T) {
	all := plan.Selection{Kind: "all"}
	for _, tc := range []struct {
		name string
		req  Request
		want string // "" accepts
	}{
		{"plain", Request{Disks: all}, ""},
		{"hook", Request{Trigger: "pre-upgrade", Disks: plan.Selection{Kind: "ids", IDs: []string{"d-bp1abc"}}, RetentionDays: 7}, ""},
		{"important", Request{Disks: all, Tags: []cloud.Tag{{Key: TagImportant, Value: "true"}, {Key: "team", Value: "db"}}}, ""},
		{"hook's packages tag", Request{Trigger: "apt", Disks: all, Tags: []cloud.Tag{{Key: TagPackages, Value: "1 upgrade: openssl"}}}, ""},
		{"trigger with a line separator", Request{Trigger: "apt\u2028x", Disks: all}, "trigger"},
		{"trigger with a newline", Request{Trigger: "apt\nX=1", Disks: all}, "trigger"},
		{"trigger with an escape", Request{Trigger: "apt\x1b[2J", Disks: all}, "trigger"},
		{"long trigger", Request{Trigger: strings.Repeat("a", 33), Disks: all}, "longer than 32"},
		{"reserved tag", Request{Disks: all, Tags: []cloud.Tag{{Key: "ecssnap:managed", Value: "false"}}}, "reserved"},
		{"reserved tag, other case", Request{Disks: all, Tags: []cloud.Tag{{Key: "ECSSNAP:job", Value: "j-1"}}}, "reserved"},
		{"important false", Request{Disks: all, Tags: []cloud.Tag{{Key: TagImportant, Value: "false"}}}, "only the value true"},
		{"duplicate tag", Request{Disks: all, Tags: []cloud.Tag{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}}}, "twice"},
		{"too many tags", Request{Disks: all, Tags: manyTags(17)}, "at most 16"},
		{"retention too long", Request{Disks: all, RetentionDays: 99999999}, "between 1 and 65536"},
		{"retention negative", Request{Disks: all, RetentionDays: -1}, "between 1 and 65536"},
		{"negative timeout", Request{Disks: all, Timeout: -1}, "timeout"},
		{"desired below required", Request{Disks: all, Consistency: LevelCrash, Require: LevelFS}, "below the required"},
		{"unknown kind", Request{Disks: plan.Selection{Kind: "every"}}, "unknown kind"},
		{"bad disk ID", Request{Disks: plan.Selection{Kind: "ids", IDs: []string{"d-x/../y"}}}, "not a disk ID"},
		{"relative mount", Request{Disks: all, Mounts: []string{"var"}}, "absolute path"},
		{"long reason", Request{Disks: all, Reason: strings.Repeat("r", MaxReasonLen+1)}, "reason"},
	} {
		err := tc.req.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
}

func manyTags(n int) []cloud.Tag {
	tags := make([]cloud.Tag, n)
	for i := range tags {
		tags[i] = cloud.Tag{Key: "k" + strings.Repeat("x", i), Value: "v"}
	}
	return tags
}

func TestDefaultsApply(t *testing.T) {
	d := Defaults{Consistency: LevelCrash, RetentionDays: func(trigger string, important bool) int {
		if important {
			return 100
		}
		return len(trigger)
	}}
	r := Request{}
	d.Apply(&r)
	if r.Trigger != "manual" || r.Consistency != LevelCrash || r.RetentionDays != len("manual") {
		t.Errorf("defaults: %+v", r)
	}
	r = Request{Trigger: "apt", Require: LevelFS, Tags: []cloud.Tag{{Key: TagImportant, Value: "true"}}}
	d.Apply(&r)
	if r.Consistency != LevelFS || r.RetentionDays != 100 {
		t.Errorf("a configured default below --require, or important: %+v", r)
	}
	r = Request{Consistency: LevelApp, RetentionDays: 3}
	d.Apply(&r)
	if r.Consistency != LevelApp || r.RetentionDays != 3 {
		t.Errorf("explicit values changed: %+v", r)
	}
}
