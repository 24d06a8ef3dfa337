package freeze

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/loopfs"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// TestSelfTest runs the self-test as `ecssnap selftest` would, with this
// test binary as the helper.
func TestSelfTest(t *testing.T) {
	if os.Geteuid() != 0 {
		if _, err := SelfTest(context.Background(), SelfTestOptions{}); !errors.Is(err, ErrNotRoot) {
			t.Errorf("without root: %v, want ErrNotRoot", err)
		}
	}
	testenv.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	types := []string{"ext4", "xfs", "btrfs"}
	rep, err := SelfTest(ctx, SelfTestOptions{Dir: t.TempDir(), Types: types, Deadline: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != len(types) {
		t.Fatalf("%d results for %d types", len(rep.Results), len(types))
	}
	for _, r := range rep.Results {
		t.Logf("%s: %s %s setup=%v held=%v write-blocked=%v recovered-by=%s in %v",
			r.FSType, r.Status, r.Detail, r.Setup, r.Held, r.WriteBlocked, r.Recovered, r.RecoveryTook)
		if r.Status == SelfTestUnavailable && loopfs.Available(r.FSType) != nil {
			testenv.Unavailable(t, r.Detail)
			continue
		}
		if r.Status != SelfTestSupported {
			t.Errorf("%s: %s: %s", r.FSType, r.Status, r.Detail)
		}
		if r.WriteBlocked < probeWindow || r.Held < probeWindow || r.RecoveryTook <= 0 || r.RecoveryTook > 2*time.Second {
			t.Errorf("%s: implausible timings %+v", r.FSType, r)
		}
	}
}
