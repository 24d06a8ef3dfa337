package childenv

import (
	"slices"
	"testing"
)

func TestCleanDropsWhatPointsElsewhere(t *testing.T) {
	for k, v := range map[string]string{
		"ECSSNAP_API_ENDPOINT": "https://ecs.example", "ALIBABA_CLOUD_ACCESS_KEY_ID": "outer",
		"HTTP_PROXY": "http://proxy", "https_proxy": "http://proxy", "CHILDENV_KEEP": "kept",
	} {
		t.Setenv(k, v)
	}
	got := Clean(map[string]string{"ECSSNAP_SOCKET": "/tmp/s.sock"})
	for _, kv := range []string{"ECSSNAP_API_ENDPOINT=https://ecs.example", "ALIBABA_CLOUD_ACCESS_KEY_ID=outer",
		"HTTP_PROXY=http://proxy", "https_proxy=http://proxy"} {
		if slices.Contains(got, kv) {
			t.Errorf("%s was passed on", kv)
		}
	}
	for _, kv := range []string{"CHILDENV_KEEP=kept", "ECSSNAP_SOCKET=/tmp/s.sock"} {
		if !slices.Contains(got, kv) {
			t.Errorf("%s is missing", kv)
		}
	}
}
