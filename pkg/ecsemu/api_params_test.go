package ecsemu

import (
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	tests := []struct {
		name      string
		allowAuto bool
		ok        bool
	}{
		{"", false, true},
		{"ab", false, true},
		{"a", false, false},
		{"pre-upgrade_2025.01:apt", false, true},
		{"中文快照", false, true},
		{strings.Repeat("a", 128), false, true},
		{strings.Repeat("a", 129), false, false},
		{"1abc", false, false},
		{"-abc", false, false},
		{"has space", false, false},
		{"slash/no", false, false},
		{"autosnap", false, false},
		{"autosnap", true, true},
		{"http://x", false, false},
		{"https://x", true, false},
		{"bad\xff", false, false},
	}
	for _, tt := range tests {
		if got := validName(tt.name, tt.allowAuto); got != tt.ok {
			t.Errorf("validName(%q, %v) = %v, want %v", tt.name, tt.allowAuto, got, tt.ok)
		}
	}
}

func TestValidDescription(t *testing.T) {
	tests := map[string]bool{
		"":                       true,
		"x":                      false,
		"ok description":         true,
		strings.Repeat("d", 256): true,
		strings.Repeat("d", 257): false,
		"http://example":         false,
		"see https://example":    true,
	}
	for in, want := range tests {
		if got := validDescription(in); got != want {
			t.Errorf("validDescription(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestTagsFor(t *testing.T) {
	tests := []struct {
		name   string
		p      params
		strict bool
		want   []tag
		code   string
	}{
		{name: "none", p: params{}, want: nil},
		{name: "ordered with gap", p: params{"Tag.3.Key": "c", "Tag.1.Key": "a", "Tag.1.Value": "1", "Tag.3.Value": ""},
			want: []tag{{"a", "1"}, {"c", ""}}},
		{name: "value without key", p: params{"Tag.1.Value": "v"}, code: "InvalidTagKey.Malformed"},
		{name: "empty key", p: params{"Tag.1.Key": ""}, code: "InvalidTagKey.Malformed"},
		{name: "N too large", p: params{"Tag.21.Key": "k"}, code: "InvalidTagCount"},
		{name: "N zero", p: params{"Tag.0.Key": "k"}, code: "InvalidTagCount"},
		{name: "bad field", p: params{"Tag.1.Name": "k"}, code: "InvalidParameter"},
		{name: "aliyun key strict", p: params{"Tag.1.Key": "aliyun-x"}, strict: true, code: "InvalidTagKey.Malformed"},
		{name: "acs key strict", p: params{"Tag.1.Key": "acs:ecs:createFrom"}, strict: true, code: "InvalidTagKey.Malformed"},
		{name: "acs key as filter", p: params{"Tag.1.Key": "acs:ecs:createFrom", "Tag.1.Value": "i-1"}, want: []tag{{"acs:ecs:createFrom", "i-1"}}},
		{name: "long key", p: params{"Tag.1.Key": strings.Repeat("k", 129)}, strict: true, code: "InvalidTagKey.Malformed"},
		{name: "long value", p: params{"Tag.1.Key": "k", "Tag.1.Value": strings.Repeat("v", 129)}, strict: true, code: "InvalidTagValue.Malformed"},
		{name: "url in value", p: params{"Tag.1.Key": "k", "Tag.1.Value": "see http://x"}, strict: true, code: "InvalidTagValue.Malformed"},
		{name: "duplicate key", p: params{"Tag.1.Key": "k", "Tag.2.Key": "k"}, code: "InvalidTagKey.Duplicated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, aerr := tagsFor(tt.p, tt.strict)
			if tt.code != "" {
				if aerr == nil || aerr.Code != tt.code {
					t.Fatalf("tagsFor = %v, %v; want %s", got, aerr, tt.code)
				}
				return
			}
			if aerr != nil {
				t.Fatal(aerr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("tag %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParamHelpers(t *testing.T) {
	ids, aerr := idList(params{"DiskIds": `["d-1","d-2"]`}, "DiskIds", 100)
	if aerr != nil || len(ids) != 2 {
		t.Errorf("idList = %v, %v", ids, aerr)
	}
	for _, bad := range []string{`d-1`, `["d-1",2]`, `{"a":1}`, `[` + strings.Repeat(`"d",`, 100) + `"d"]`} {
		if _, aerr := idList(params{"DiskIds": bad}, "DiskIds", 100); aerr == nil || aerr.Code != "InvalidDiskIds.Malformed" {
			t.Errorf("idList(%q) = %v", bad, aerr)
		}
	}
	if ids, aerr := idList(params{"DiskIds": `[]`}, "DiskIds", 100); aerr != nil || ids == nil || len(ids) != 0 {
		t.Errorf("empty array must filter everything out: %v %v", ids, aerr)
	}
	for v, ok := range map[string]bool{"1": true, "65536": true, "0": false, "65537": false, "x": false} {
		_, aerr := retentionDays(params{"RetentionDays": v})
		if (aerr == nil) != ok {
			t.Errorf("retentionDays(%s) = %v", v, aerr)
		}
	}
	for v, ok := range map[string]bool{"abc-123": true, strings.Repeat("t", 64): true, strings.Repeat("t", 65): false, "é": false, "a\nb": false} {
		_, aerr := clientToken(params{"ClientToken": v})
		if (aerr == nil) != ok {
			t.Errorf("clientToken(%q) = %v", v, aerr)
		}
	}
	list, aerr := params{"DiskId.2": "b", "DiskId.1": "a"}.list("DiskId", 16)
	if aerr != nil || strings.Join(list, ",") != "a,b" {
		t.Errorf("list = %v, %v", list, aerr)
	}
	for _, k := range []string{"DiskId.17", "DiskId.0", "DiskId.x"} {
		if _, aerr := (params{k: "a"}).list("DiskId", 16); aerr == nil {
			t.Errorf("list accepted %s", k)
		}
	}
	if _, aerr := (params{"DryRun": "yes"}).bool("DryRun"); aerr == nil {
		t.Error("bool accepted yes")
	}
}
