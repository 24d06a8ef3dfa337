package emucli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/testenv"
	"github.com/ecssnap/ecssnap/pkg/topology"
)

// --data-dir attaches the instance's disks, shows them to the product's
// topology reader through the guest view, and removes every loop device
// and mount when the emulator stops.
func TestRunDataDir(t *testing.T) {
	testenv.RequireRoot(t)
	for _, dev := range []string{"/dev/fuse", "/dev/loop-control"} {
		if _, err := os.Stat(dev); err != nil {
			testenv.Unavailable(t, dev+" is missing")
		}
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"--data-dir", dir}, pw, &stderr)
		pw.Close()
	}()
	var ready Ready
	if err := json.NewDecoder(pr).Decode(&ready); err != nil {
		cancel()
		<-done
		t.Fatalf("ready line: %v; stderr %s", err, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	if len(ready.Devices) != 2 || ready.GuestRoot != filepath.Join(dir, "guest") {
		t.Fatalf("ready line: devices %v, guest root %q", ready.Devices, ready.GuestRoot)
	}
	topo, err := topology.New(ready.GuestRoot).Discover()
	if err != nil {
		t.Fatal(err)
	}
	var serials []string
	for _, d := range topo.Disks() {
		serials = append(serials, d.Serial)
	}
	if got := strings.Join(serials, ","); got != "bp1ecssnapdata000001,bp1ecssnapsys0000001" && got != "bp1ecssnapsys0000001,bp1ecssnapdata000001" {
		t.Errorf("serials in the guest view: %s", got)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the emulator did not stop")
	}
	for _, dev := range ready.Devices {
		b, err := os.ReadFile(filepath.Join("/sys/block", filepath.Base(dev), "loop/backing_file"))
		if err == nil && strings.HasPrefix(string(b), dir) {
			t.Errorf("%s still bound to %s", dev, b)
		}
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), dir) {
		t.Errorf("a mount below %s is left", dir)
	}
}
