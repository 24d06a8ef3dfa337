package job

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/imds"
)

func TestClassify(t *testing.T) {
	api := func(kind cloud.Kind, code string) error {
		return fmt.Errorf("create: %w", &cloud.APIError{Action: "CreateSnapshot", Kind: kind, Code: code})
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"none", nil, ClassNone},
		{"degraded", &DegradedError{Achieved: LevelCrash, Desired: LevelFS}, ClassDegraded},
		{"metadata unreachable", &imds.UnreachableError{URL: "http://127.0.0.1:1"}, ClassUnavailable},
		{"throttled", api(cloud.KindThrottled, "Throttling.User"), ClassTemporary},
		{"previous snapshot still running", api(cloud.KindDiskState, cloud.CodeCreatingSnapshot), ClassTemporary},
		{"disk detached", api(cloud.KindDiskState, "IncorrectDiskStatus"), ClassFailed},
		{"denied", api(cloud.KindPermission, "Forbidden.RAM"), ClassPermission},
		{"no credentials", api(cloud.KindNoCredentials, ""), ClassConfig},
		{"anything else", errors.New("boom"), ClassFailed},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classify = %q, want %q", tt.name, got, tt.want)
		}
	}
}
