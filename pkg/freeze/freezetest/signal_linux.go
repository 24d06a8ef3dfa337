package freezetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/freeze"
)

// SignalHelperWhenFrozen is for root tests of the real helper: it waits for
// the freeze journal at journal, which names the helper and is written just
// before the first FIFREEZE, then for mount to be frozen (a write blocks),
// then sends sig to the helper once delay has passed (so that a slowed
// create call is in flight). It gives up after 30 s, reporting through
// t.Error; run it in a goroutine of its own.
func SignalHelperWhenFrozen(t testing.TB, journal, mount string, delay time.Duration, sig syscall.Signal) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(journal)
		var j freeze.Journal
		if err != nil || json.Unmarshal(data, &j) != nil || j.Helper.PID == 0 {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		for !WriteBlocks(mount) {
			if time.Now().After(deadline) {
				t.Error("the filesystem was never frozen")
				return
			}
		}
		time.Sleep(delay)
		if err := syscall.Kill(j.Helper.PID, sig); err != nil {
			t.Errorf("signal the helper: %v", err)
		}
		return
	}
	t.Error("no freeze journal appeared")
}

// WriteBlocks reports whether a write to mount is still blocked after
// 50 ms: the filesystem is frozen. The write completes at the thaw.
func WriteBlocks(mount string) bool {
	done := make(chan struct{})
	go func() {
		_ = os.WriteFile(filepath.Join(mount, "probe"), []byte("x"), 0o644)
		close(done)
	}()
	select {
	case <-done:
		time.Sleep(5 * time.Millisecond)
		return false
	case <-time.After(50 * time.Millisecond):
		return true
	}
}
