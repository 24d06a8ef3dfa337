package cli_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/topology/topologytest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// cloudFixture is the cloud side of a topology fixture (NAME.cloud.json).
type cloudFixture struct {
	Disks []struct {
		ID          string `json:"id"`
		Serial      string `json:"serial"`
		Category    string `json:"category"`
		Type        string `json:"type"`
		SizeGiB     int    `json:"size_gib"`
		MultiAttach bool   `json:"multi_attach"`
	} `json:"disks"`
	MetadataSerials map[string]string `json:"metadata_serials"`
}

// fixtureScenario is the default emulator instance with the fixture's disks.
func fixtureScenario(t *testing.T, name string) *ecsemu.Scenario {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(topologytest.Dir(), name+".cloud.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cf cloudFixture
	if err := json.Unmarshal(data, &cf); err != nil {
		t.Fatalf("%s.cloud.json: %v", name, err)
	}
	metaSerial := map[string]string{}
	for serial, id := range cf.MetadataSerials {
		metaSerial[id] = serial
	}
	sc := ecsemu.DefaultScenario()
	sc.Disks = nil
	for _, d := range cf.Disks {
		serial := d.Serial
		if serial == "" {
			serial = metaSerial[d.ID] // the emulator has one serial for both sides
		}
		if serial == "" {
			serial = "-"
		}
		sc.Disks = append(sc.Disks, ecsemu.Disk{ID: d.ID, Serial: serial, Category: d.Category, Type: d.Type,
			SizeGiB: d.SizeGiB, MultiAttach: d.MultiAttach})
	}
	return sc
}

// TestGoldenDisksAndPlan runs `ecssnap disks` and `ecssnap plan` on every
// topology fixture against an emulator holding the fixture's cloud disks.
func TestGoldenDisksAndPlan(t *testing.T) {
	matches, err := filepath.Glob(filepath.Join(topologytest.Dir(), "*.cloud.json"))
	if err != nil || len(matches) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, m := range matches {
		name := strings.TrimSuffix(filepath.Base(m), ".cloud.json")
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, ecsemutest.WithScenario(fixtureScenario(t, name)))
			h.vars["ECSSNAP_ROOT"] = topologytest.Extract(t, name)
			for _, cmd := range []string{"disks", "plan"} {
				// The plan as for a plain `sudo snapshot-now` (fs wanted),
				// whatever the harness's configuration says.
				args := []string{"ecssnap", cmd}
				if cmd == "plan" {
					args = append(args, "--consistency", "fs")
				}
				code, stdout, stderr := h.run(args...)
				got := withoutRootWarning(stdout)
				if code != 0 {
					got += "exit " + itoa(code) + ": " + stderr
				}
				checkGolden(t, filepath.Join("testdata", "golden", name+"."+cmd+".txt"), got)
			}
		})
	}
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./agent/cli -run Golden -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (rerun with -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// withoutRootWarning drops the plan's warning that freezing needs root,
// which only a run without root prints, so that the goldens are the same
// for every user.
func withoutRootWarning(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if !strings.HasPrefix(line, "warning: a real run would stop before creating anything: freezing filesystems needs root") {
			b.WriteString(line)
		}
	}
	return b.String()
}
