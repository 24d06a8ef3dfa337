package daemon

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// The unit must pass systemd's own checks; the binary it names is swapped
// for one that exists here.
func TestUnitFileVerifies(t *testing.T) {
	testenv.RequireTool(t, "systemd-analyze")
	dir := t.TempDir()
	unit := strings.Replace(UnitFile, "ExecStart=/usr/bin/ecssnap daemon", "ExecStart=/bin/true daemon", 1)
	path := filepath.Join(dir, "ecssnap.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, want := range []string{"Type=notify", "WatchdogSec=", "RuntimeDirectory=ecssnap", "StateDirectory=ecssnap", "RuntimeDirectoryPreserve=yes"} {
		if !strings.Contains(UnitFile, want) {
			t.Errorf("unit lacks %s", want)
		}
	}
	// Hardening that would hide mount points or devices from the freezer.
	for _, never := range []string{"PrivateTmp=yes", "ProtectHome=yes", "PrivateDevices=yes", "ProtectSystem=strict"} {
		if strings.Contains(UnitFile, never) {
			t.Errorf("unit sets %s, which would stop freezing", never)
		}
	}
}

func TestServiceUnitTemplate(t *testing.T) {
	cfg := serviceConfig()
	unit, _ := cfg.Option["SystemdScript"].(string)
	if !strings.Contains(unit, "ExecStart={{Path | cmdEscape}} daemon") || cfg.Name != "ecssnap" {
		t.Errorf("service config: name %q, unit:\n%s", cfg.Name, unit)
	}
}
