package job

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ecssnap/ecssnap/pkg/cloud"
)

// validName is the API's rule for snapshot names (REFERENCE section 3).
var validName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9:_.-]{1,127}$`)

func TestSnapshotNameAlwaysValid(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, trigger := range []string{
		"manual", "apt", "", "auto", "autoupdate", "http://x", "日本語", "a b\tc\n", strings.Repeat("x", 300), "-_-", "..",
	} {
		for _, suffix := range []string{"", "d-bp1abc", "group", "日本"} {
			name := SnapshotName(trigger, at, suffix)
			if !validName.MatchString(name) {
				t.Errorf("SnapshotName(%q, %q) = %q: not a valid API name", trigger, suffix, name)
			}
			low := strings.ToLower(name)
			if strings.HasPrefix(low, "auto") || strings.HasPrefix(low, "http") {
				t.Errorf("SnapshotName(%q) = %q starts with a refused prefix", trigger, name)
			}
		}
	}
}

func TestDescription(t *testing.T) {
	tests := []struct{ reason, want string }{
		{"", "ecssnap"},
		{"before upgrade", "ecssnap: before upgrade"},
		{"http://example.com", "ecssnap: http://example.com"},
		{"line1\nline2\x00", "ecssnap: line1 line2"},
		{"bad \xff utf8", "ecssnap: bad   utf8"},
	}
	for _, tt := range tests {
		if got := Description(tt.reason); got != tt.want {
			t.Errorf("Description(%q) = %q, want %q", tt.reason, got, tt.want)
		}
	}
	long := Description(strings.Repeat("é", 1000))
	if n := utf8.RuneCountInString(long); n != maxDescriptionLen {
		t.Errorf("long description has %d characters, want %d", n, maxDescriptionLen)
	}
}

func TestClientToken(t *testing.T) {
	short := ClientToken("j-20261123-100000-abcd1234", "d-bp1xyz")
	if short != "j-20261123-100000-abcd1234-d-bp1xyz" {
		t.Errorf("short token = %q", short)
	}
	long := ClientToken("j-20261123-100000-abcd1234", strings.Repeat("d", 80))
	if len(long) > maxClientToken || !isASCII(long) {
		t.Errorf("long token %q is not ASCII of at most 64 bytes", long)
	}
	if long != ClientToken("j-20261123-100000-abcd1234", strings.Repeat("d", 80)) {
		t.Error("token derivation is not deterministic: a resumed job would duplicate snapshots")
	}
	if ClientToken("j-1", "d-a") == ClientToken("j-1", "d-b") {
		t.Error("different disks share a token")
	}
}

func TestValidateUserTag(t *testing.T) {
	tests := []struct {
		tag     cloud.Tag
		wantErr string
	}{
		{cloud.Tag{Key: "team", Value: "db"}, ""},
		{cloud.Tag{Key: "", Value: "x"}, "empty"},
		{cloud.Tag{Key: "aliyun-x", Value: "x"}, "aliyun"},
		{cloud.Tag{Key: "acs:x", Value: "x"}, "acs:"},
		{cloud.Tag{Key: "ecssnap:managed", Value: "x"}, "reserved"},
		{cloud.Tag{Key: strings.Repeat("k", 129), Value: "x"}, "longer than 128"},
		{cloud.Tag{Key: "k", Value: strings.Repeat("v", 129)}, "longer than 128"},
	}
	for _, tt := range tests {
		err := ValidateUserTag(tt.tag)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("ValidateUserTag(%q) = %v, want %q", tt.tag.Key, err, tt.wantErr)
		}
	}
}
