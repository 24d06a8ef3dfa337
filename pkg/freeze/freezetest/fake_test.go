package freezetest_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/freeze"
	"github.com/ecssnap/ecssnap/pkg/freeze/freezetest"
)

var targets = []freeze.Target{
	{MountPoint: "/", FSType: "ext4", Dev: "254:1"},
	{MountPoint: "/data", FSType: "xfs", Dev: "8:16"},
	{MountPoint: "/run", FSType: "tmpfs", Dev: "0:25"},
	{MountPoint: "/boot/efi", FSType: "vfat", Dev: "259:1"},
}

// An orchestration test in miniature: it runs against the fake and checks
// the order of calls and that nothing stays frozen.
func TestFakeRecordsOrder(t *testing.T) {
	f := &freezetest.Fake{Status: map[string]freeze.Status{"/boot/efi": freeze.StatusNotSupported}}
	var frozenDuring []string
	f.OnFreeze = func() { frozenDuring = f.Frozen() }
	ctx := context.Background()
	s, err := f.Prepare(ctx, targets, freeze.SessionOptions{JobID: "j"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Freeze(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Frozen(); !slices.Equal(got, []string{"/data", "/"}) {
		t.Errorf("frozen %v", got)
	}
	if !slices.Equal(frozenDuring, []string{"/", "/data"}) {
		t.Errorf("frozen during the freeze: %v", frozenDuring)
	}
	if _, err := s.Thaw(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := f.Ops(); !slices.Equal(got, []string{"prepare", "freeze", "thaw", "close"}) {
		t.Errorf("ops %v", got)
	}
	calls := f.Calls()
	if !slices.Equal(calls[1].MountPoints, []string{"/boot/efi", "/data", "/"}) || !slices.Equal(calls[2].MountPoints, []string{"/", "/data"}) {
		t.Errorf("freeze %v then thaw %v", calls[1].MountPoints, calls[2].MountPoints)
	}
	if len(f.Frozen()) != 0 {
		t.Errorf("still frozen: %v", f.Frozen())
	}
}

func TestFakeCloseThawsAfterErrors(t *testing.T) {
	boom := errors.New("boom")
	f := &freezetest.Fake{FreezeErr: boom}
	ctx := context.Background()
	s, _ := f.Prepare(ctx, targets, freeze.SessionOptions{JobID: "j"})
	if _, err := s.Freeze(ctx); !errors.Is(err, boom) {
		t.Fatalf("freeze: %v", err)
	}
	if _, err := s.Freeze(ctx); !errors.Is(err, freeze.ErrSessionState) {
		t.Errorf("second freeze: %v", err)
	}
	_ = s.Close()
	_ = s.Close()
	if len(f.Frozen()) != 0 {
		t.Errorf("Close left %v frozen", f.Frozen())
	}
	if got := f.Ops(); !slices.Equal(got, []string{"prepare", "freeze", "freeze", "close-thaw", "close", "close"}) {
		t.Errorf("ops %v", got)
	}
}
