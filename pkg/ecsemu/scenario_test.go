package ecsemu

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const exampleYAML = `
region: cn-shanghai
account_id: "1111"
access_keys:
  - {id: AK1, secret: S1}
ram_role: {name: Role1, credential_ttl: 1h}
instance: {id: i-one, zone_id: cn-shanghai-b, type: ecs.g7.large, hostname: h1}
disks:
  - {id: d-sys, type: system, size_gib: 40}
  - {id: d-data, category: cloud_efficiency, size_gib: 100, serial: SER1}
snapshots:
  - {id: s-old, disk_id: d-sys, age: 48h, retention_days: 1}
speed: {mib_per_second: 100, minimum: 5s}
group_limits: {regions: {cn-shanghai: {max_disks: 128, max_tib: 256}}}
metadata: {token_required: true}
behavior: {delete_unknown_snapshot: ignore}
faults: {latency: 10ms, throttle_rate: 0.5, actions: [CreateSnapshot]}
`

func TestParseScenarioYAMLAndDefaults(t *testing.T) {
	sc, err := ParseScenario([]byte(exampleYAML))
	if err != nil {
		t.Fatalf("ParseScenario: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"region", sc.Region, "cn-shanghai"},
		{"ttl", sc.RAMRole.CredentialTTL.D(), time.Hour},
		{"refresh before defaults to ttl/2", sc.RAMRole.RefreshBefore.D(), 30 * time.Minute},
		{"instance status default", sc.Instance.Status, "Running"},
		{"disk category default", sc.Disks[0].Category, "cloud_essd"},
		{"disk type default", sc.Disks[1].Type, "data"},
		{"serial default strips d-", sc.Disks[0].Serial, "sys"},
		{"explicit serial", sc.Disks[1].Serial, "SER1"},
		{"zone default", sc.Disks[1].ZoneID, "cn-shanghai-b"},
		{"status default", sc.Disks[0].Status, "In_use"},
		{"quota default", sc.Quota.ManualSnapshotsPerDisk, 256},
		{"group max disks default", sc.GroupLimits.MaxDisks, 16},
		{"minimum", sc.Speed.Minimum.D(), 5 * time.Second},
		{"snapshot age", sc.Snapshots[0].Age.D(), 48 * time.Hour},
		{"snapshot status default", sc.Snapshots[0].Status, "accomplished"},
		{"fault latency", sc.Faults.Latency, 10 * time.Millisecond},
		{"fault actions", strings.Join(sc.Faults.Actions, ","), "CreateSnapshot"},
		{"behavior", sc.Behavior.DeleteUnknownSnapshot, "ignore"},
		{"dry run default", strings.Join(sc.Behavior.DryRunActions, ","), "DescribeInstances,DescribeDisks,DescribeSnapshots,DescribeImages,ResetDisk,ResetDisks,StopInstance,StartInstance"},
		{"timestamp window", sc.Behavior.TimestampWindow.D(), 15 * time.Minute},
		{"token required", sc.Metadata.TokenRequired, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseScenarioJSON(t *testing.T) {
	js := `{"region":"cn-beijing","access_keys":[{"id":"a","secret":"b"}],
	  "instance":{"id":"i-x","zone_id":"cn-beijing-a"},
	  "disks":[{"id":"d-x","size_gib":20}],
	  "ram_role":{"name":"R","credential_ttl":"30m"},
	  "faults":{"latency":"2s","drop_rate":0.1}}`
	sc, err := ParseScenario([]byte(js))
	if err != nil {
		t.Fatalf("ParseScenario(JSON): %v", err)
	}
	if sc.RAMRole.CredentialTTL.D() != 30*time.Minute || sc.Faults.Latency != 2*time.Second || sc.Faults.DropRate != 0.1 {
		t.Errorf("parsed %+v %+v", sc.RAMRole, sc.Faults)
	}
}

func TestParseScenarioErrors(t *testing.T) {
	base := func(extra string) string {
		return "region: r\naccess_keys: [{id: a, secret: b}]\ninstance: {id: i-1, zone_id: z}\n" + extra
	}
	tests := []struct {
		name, doc, want string
	}{
		{"empty", "", "empty document"},
		{"unknown top-level key", base("colour: blue\n"), `unknown key "colour"`},
		{"unknown nested key", base("disks: [{id: d-1, size_gib: 1, sise: 3}]\n"), `line 4: unknown key "sise"`},
		{"unknown JSON key", `{"region":"r","bogus":1}`, `unknown key "bogus"`},
		{"bad duration", base("speed: {minimum: soon}\n"), "invalid duration"},
		{"no region", "access_keys: [{id: a, secret: b}]\ninstance: {id: i-1, zone_id: z}\n", "region is required"},
		{"no keys or role", "region: r\ninstance: {id: i-1, zone_id: z}\n", "access_keys or ram_role"},
		{"key without secret", "region: r\naccess_keys: [{id: a}]\ninstance: {id: i-1, zone_id: z}\n", "access_keys[0]"},
		{"instance id", "region: r\naccess_keys: [{id: a, secret: b}]\ninstance: {id: x, zone_id: z}\n", "instance.id"},
		{"instance status", "region: r\naccess_keys: [{id: a, secret: b}]\ninstance: {id: i-1, zone_id: z, status: Flying}\n", "instance.status \"Flying\""},
		{"disk id", base("disks: [{id: x-1, size_gib: 1}]\n"), "disks[0].id"},
		{"duplicate disk", base("disks: [{id: d-1, size_gib: 1}, {id: d-1, size_gib: 1, serial: other}]\n"), "repeated"},
		{"duplicate serial", base("disks: [{id: d-1, size_gib: 1, serial: s}, {id: d-2, size_gib: 1, serial: s}]\n"), "serial \"s\" is repeated"},
		{"category", base("disks: [{id: d-1, size_gib: 1, category: floppy}]\n"), "category \"floppy\""},
		{"disk type", base("disks: [{id: d-1, size_gib: 1, type: boot}]\n"), "system or data"},
		{"size", base("disks: [{id: d-1}]\n"), "size_gib must be positive"},
		{"two system disks", base("disks: [{id: d-1, size_gib: 1, type: system}, {id: d-2, size_gib: 1, type: system}]\n"), "more than one system disk"},
		{"disk status", base("disks: [{id: d-1, size_gib: 1, status: Broken}]\n"), "status \"Broken\""},
		{"snapshot disk", base("disks: [{id: d-1, size_gib: 1}]\nsnapshots: [{id: s-1, disk_id: d-9}]\n"), "not a scenario disk"},
		{"snapshot status", base("disks: [{id: d-1, size_gib: 1}]\nsnapshots: [{id: s-1, disk_id: d-1, status: gone}]\n"), "accomplished, progressing or failed"},
		{"snapshot time and age", base("disks: [{id: d-1, size_gib: 1}]\nsnapshots: [{id: s-1, disk_id: d-1, age: 1h, creation_time: 2024-01-01T00:00:00Z}]\n"), "not both"},
		{"behavior", base("behavior: {delete_unknown_snapshot: maybe}\n"), "delete_unknown_snapshot"},
		{"tag list page size", base("behavior: {tag_list_page_size: -1}\n"), "tag_list_page_size"},
		{"tag list filter", base("behavior: {tag_list_filter: some}\n"), "tag_list_filter"},
		{"dry run action", base("behavior: {dry_run_actions: [RebootInstance]}\n"), "unknown action"},
		{"fault rate", base("faults: {error_rate: 2}\n"), "error_rate 2"},
		{"fault action", base("faults: {actions: [Nope]}\n"), "unknown action \"Nope\""},
		{"refresh before ttl", base("ram_role: {name: r, credential_ttl: 1h, refresh_before: 2h}\n"), "refresh_before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(tt.doc))
			if err == nil {
				t.Fatalf("ParseScenario accepted %q", tt.doc)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestLoadScenario(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(exampleYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadScenario(good); err != nil {
		t.Errorf("LoadScenario(good): %v", err)
	}
	if _, err := LoadScenario(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "read scenario") {
		t.Errorf("LoadScenario(missing) = %v", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("region: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadScenario(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("LoadScenario(bad) = %v, want the path in the error", err)
	}
}

func TestBuiltInScenarios(t *testing.T) {
	for name, sc := range map[string]*Scenario{"default": DefaultScenario(), "demo": DemoScenario()} {
		if err := sc.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		// A round trip through JSON parses back to the same scenario.
		js, err := json.Marshal(sc)
		if err != nil {
			t.Fatalf("%s: marshal: %v", name, err)
		}
		back, err := ParseScenario(js)
		if err != nil {
			t.Fatalf("%s: reparse: %v\n%s", name, err, js)
		}
		js2, _ := json.Marshal(back)
		if string(js) != string(js2) {
			t.Errorf("%s: round trip differs:\n%s\n%s", name, js, js2)
		}
	}
	demo := DemoScenario()
	e, err := New(demo, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range demo.Disks {
		if got := e.snapshotDuration(d.SizeGiB); got > 5*time.Second {
			t.Errorf("demo disk %s takes %v, want a few seconds", d.ID, got)
		}
	}
	cats := map[string]bool{}
	for _, d := range demo.Disks {
		cats[d.Category+"/"+d.Type] = true
	}
	for _, want := range []string{"cloud_essd/system", "cloud_essd/data", "cloud_efficiency/data"} {
		if !cats[want] {
			t.Errorf("demo scenario lacks a %s disk", want)
		}
	}
}

func TestDurationJSONAndYAML(t *testing.T) {
	var d Duration
	for in, want := range map[string]time.Duration{`"10s"`: 10 * time.Second, `"6h"`: 6 * time.Hour, `2.5`: 2500 * time.Millisecond} {
		if err := json.Unmarshal([]byte(in), &d); err != nil || d.D() != want {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", in, d, err, want)
		}
	}
	if err := json.Unmarshal([]byte(`"ten"`), &d); err == nil {
		t.Error("Unmarshal(\"ten\") succeeded")
	}
	out, _ := json.Marshal(Duration(90 * time.Second))
	if string(out) != `"1m30s"` {
		t.Errorf("Marshal = %s", out)
	}
	sc, err := ParseScenario([]byte("region: r\naccess_keys: [{id: a, secret: b}]\ninstance: {id: i-1, zone_id: z}\nspeed: {minimum: 3}\n"))
	if err != nil || sc.Speed.Minimum.D() != 3*time.Second {
		t.Errorf("YAML bare number: %v %v", sc, err)
	}
}

func TestFaultsJSON(t *testing.T) {
	f := Faults{Latency: 250 * time.Millisecond, ThrottleRate: 0.5, Actions: []string{"CreateSnapshot"}, IMDSLatency: time.Second}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"latency":"250ms"`) || !strings.Contains(string(b), `"imds_latency":"1s"`) {
		t.Errorf("Marshal = %s", b)
	}
	var back Faults
	if err := json.Unmarshal(b, &back); err != nil || back.Latency != f.Latency || back.ThrottleRate != 0.5 {
		t.Errorf("round trip = %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"latencee":"1s"}`), &back); err == nil {
		t.Error("unknown fault key accepted")
	}
}

func TestExampleScenarioFile(t *testing.T) {
	sc, err := LoadScenario(filepath.Join("testdata", "scenario-example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Disks) != 2 || sc.Disks[0].Serial != "system" || !sc.Snapshots[1].CreatedDisk ||
		sc.GroupLimits.Regions["cn-shanghai"].MaxDisks != 128 || sc.RAMRole.RefreshBefore.D() != time.Hour ||
		sc.Behavior.TagListPageSize != 50 || sc.Behavior.TagListFilter != TagListMatching {
		t.Errorf("example scenario = %+v", sc)
	}
}
