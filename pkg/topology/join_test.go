package topology

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// joinTopology is a hand-built machine: virtio vda/vdb/vdc with the given
// serials, a partition, an NVMe disk and a loop device.
func joinTopology(serials ...string) *Topology {
	t := &Topology{Devices: map[string]*BlockDevice{}}
	names := []string{"vda", "vdb", "vdc"}
	for i, s := range serials {
		t.Devices[names[i]] = &BlockDevice{Name: names[i], Dev: "253:" + itoa(16*i), Kind: KindDisk, Transport: TransportVirtio, Serial: s, SizeBytes: gib}
	}
	t.Devices["vda1"] = &BlockDevice{Name: "vda1", Dev: "253:1", Kind: KindPartition, Parent: "vda", SizeBytes: gib / 2}
	t.Devices["loop0"] = &BlockDevice{Name: "loop0", Dev: "7:0", Kind: KindLoop, Transport: TransportOther, SizeBytes: gib, BackingFile: "/tmp/a.img"}
	return t
}

func TestJoinDeviceOverrides(t *testing.T) {
	topo := joinTopology("sys1")
	disks := []CloudDisk{{ID: "d-sys1", Serial: "sys1"}, {ID: "d-emu1"}, {ID: "d-emu2"}}

	_, err := Join(topo, disks, JoinOptions{DeviceOverrides: map[string]string{"loop0": "d-emu1"}})
	if !errors.Is(err, ErrDeviceOverridesDisabled) {
		t.Fatalf("overrides without AllowDeviceOverrides: err = %v", err)
	}

	var logs bytes.Buffer
	m, err := Join(topo, disks, JoinOptions{
		DeviceOverrides:      map[string]string{"loop0": "d-emu1"},
		AllowDeviceOverrides: true,
		Logger:               slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if dm, _ := m.ByDiskID("d-emu1"); dm.Device != "loop0" || dm.Method != MatchOverride || dm.Reason != "" {
		t.Errorf("d-emu1 = %+v", dm)
	}
	if dm, _ := m.ByDiskID("d-sys1"); dm.Device != "vda" || dm.Method != MatchSerial {
		t.Errorf("d-sys1 = %+v", dm)
	}
	if dm, _ := m.ByDiskID("d-emu2"); dm.Reason != ReasonNoSerial {
		t.Errorf("d-emu2 = %+v", dm)
	}
	for _, l := range m.Unmapped {
		if l.Device == "loop0" {
			t.Errorf("overridden loop0 still listed as unmapped: %+v", l)
		}
	}
	if !strings.Contains(logs.String(), "device override") {
		t.Errorf("no log record for the override: %q", logs.String())
	}

	for name, overrides := range map[string]map[string]string{
		"unknown device":      {"vdq": "d-emu1"},
		"partition":           {"vda1": "d-emu1"},
		"unknown disk":        {"loop0": "d-nope"},
		"one disk, two names": {"loop0": "d-emu1", "vda": "d-emu1"},
	} {
		if _, err := Join(topo, disks, JoinOptions{DeviceOverrides: overrides, AllowDeviceOverrides: true}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestJoinRules(t *testing.T) {
	tests := []struct {
		name     string
		topo     *Topology
		disks    []CloudDisk
		imds     map[string]string
		mapped   map[string]MatchMethod // disk ID -> method
		device   map[string]string      // disk ID -> device
		local    map[string]Reason      // device -> reason
		cloud    map[string]Reason      // disk ID -> reason
		warnings int
	}{
		{
			name:   "serial, then metadata, then prefix",
			topo:   joinTopology("s-a", "s-b", "s-c"),
			disks:  []CloudDisk{{ID: "d-1", Serial: "s-a"}, {ID: "d-2"}, {ID: "d-s-c"}},
			imds:   map[string]string{"s-b": "d-2"},
			mapped: map[string]MatchMethod{"d-1": MatchSerial, "d-2": MatchMetadata, "d-s-c": MatchIDPrefix},
			device: map[string]string{"d-1": "vda", "d-2": "vdb", "d-s-c": "vdc"},
			local:  map[string]Reason{"loop0": ReasonLoopDevice}, warnings: 1,
		},
		{
			// vdb's serial "abc" would map d-abc by the prefix rule, but
			// the API says d-abc's serial is vdc's: the guess must lose.
			name:   "a serial match beats a prefix guess",
			topo:   joinTopology("sys", "abc", "zzz"),
			disks:  []CloudDisk{{ID: "d-sys", Serial: "sys"}, {ID: "d-abc", Serial: "zzz"}},
			mapped: map[string]MatchMethod{"d-abc": MatchSerial},
			device: map[string]string{"d-abc": "vdc"},
			local:  map[string]Reason{"vdb": ReasonConflict},
		},
		{
			name:  "two inventory disks with one serial map neither",
			topo:  joinTopology("sys", "dup"),
			disks: []CloudDisk{{ID: "d-sys", Serial: "sys"}, {ID: "d-x", Serial: "dup"}, {ID: "d-y", Serial: "dup"}},
			local: map[string]Reason{"vdb": ReasonConflict},
			cloud: map[string]Reason{"d-x": ReasonConflict, "d-y": ReasonConflict},
		},
		{
			name:   "two local disks with one serial",
			topo:   joinTopology("sys", "same", "same"),
			disks:  []CloudDisk{{ID: "d-sys", Serial: "sys"}, {ID: "d-same", Serial: "same"}},
			device: map[string]string{"d-same": "vdb"},
			local:  map[string]Reason{"vdc": ReasonConflict},
		},
		{
			name:  "metadata names a disk missing from the inventory",
			topo:  joinTopology("sys", "orphan"),
			disks: []CloudDisk{{ID: "d-sys", Serial: "sys"}},
			imds:  map[string]string{"orphan": "d-elsewhere"},
			local: map[string]Reason{"vdb": ReasonUnknownSerial},
		},
		{
			// virtio-blk carries 20 bytes of ID: a longer suffix arrives cut.
			name:   "prefix rule accepts a truncated virtio serial",
			topo:   joinTopology("sys", "bp1abcdefghijklmnopq"),
			disks:  []CloudDisk{{ID: "d-sys", Serial: "sys"}, {ID: "d-bp1abcdefghijklmnopqrs"}},
			mapped: map[string]MatchMethod{"d-bp1abcdefghijklmnopqrs": MatchIDPrefix},
			device: map[string]string{"d-bp1abcdefghijklmnopqrs": "vdb"}, warnings: 1,
		},
		{
			name:  "prefix rule does not take a shorter serial as a prefix",
			topo:  joinTopology("sys", "bp1abc"),
			disks: []CloudDisk{{ID: "d-sys", Serial: "sys"}, {ID: "d-bp1abcdef"}},
			local: map[string]Reason{"vdb": ReasonUnknownSerial},
			cloud: map[string]Reason{"d-bp1abcdef": ReasonNoSerial},
		},
		{
			name:   "local disk category",
			topo:   joinTopology("sys", "loc1"),
			disks:  []CloudDisk{{ID: "d-sys", Serial: "sys"}, {ID: "d-loc1", Serial: "loc1", Category: "local_ssd_pro"}},
			device: map[string]string{"d-loc1": "vdb"},
			cloud:  map[string]Reason{},
			local:  map[string]Reason{"vdb": ReasonLocalDisk},
		},
		{
			name:   "serial whitespace from the API is ignored",
			topo:   joinTopology("sys"),
			disks:  []CloudDisk{{ID: "d-sys", Serial: " sys\n"}},
			device: map[string]string{"d-sys": "vda"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Join(tt.topo, tt.disks, JoinOptions{MetadataSerials: tt.imds})
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Disks) != len(tt.disks) {
				t.Fatalf("%d mappings for %d disks", len(m.Disks), len(tt.disks))
			}
			for id, method := range tt.mapped {
				if dm, _ := m.ByDiskID(id); dm.Method != method {
					t.Errorf("%s: method %q, want %q", id, dm.Method, method)
				}
			}
			for id, dev := range tt.device {
				if dm, _ := m.ByDiskID(id); dm.Device != dev {
					t.Errorf("%s: device %q, want %q (%+v)", id, dm.Device, dev, dm)
				}
			}
			for dev, reason := range tt.local {
				found := false
				for _, l := range m.Unmapped {
					if l.Device == dev {
						found = true
						if l.Reason != reason || l.Detail == "" {
							t.Errorf("%s: %+v, want reason %s", dev, l, reason)
						}
					}
				}
				if !found {
					t.Errorf("%s not listed as unmapped: %+v", dev, m.Unmapped)
				}
			}
			for id, reason := range tt.cloud {
				if dm, _ := m.ByDiskID(id); dm.Reason != reason || dm.Detail == "" {
					t.Errorf("%s: %+v, want reason %s", id, dm, reason)
				}
			}
			if len(m.Warnings) != tt.warnings {
				t.Errorf("warnings = %q, want %d", m.Warnings, tt.warnings)
			}
			for _, dm := range m.Disks {
				if (dm.Method == MatchIDPrefix) != (dm.Warning != "") {
					t.Errorf("%s: method %s with warning %q", dm.Disk.ID, dm.Method, dm.Warning)
				}
			}
		})
	}
}

func TestJoinPrefixRuleLogs(t *testing.T) {
	var logs bytes.Buffer
	_, err := Join(joinTopology("guess"), []CloudDisk{{ID: "d-guess"}}, JoinOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "disk=d-guess") {
		t.Errorf("log = %q", logs.String())
	}
}

func TestJoinBadInput(t *testing.T) {
	topo := joinTopology("a")
	if _, err := Join(nil, nil, JoinOptions{}); err == nil {
		t.Error("nil topology: no error")
	}
	if _, err := Join(topo, []CloudDisk{{ID: "d-1"}, {ID: "d-1"}}, JoinOptions{}); err == nil {
		t.Error("duplicate disk IDs: no error")
	}
	if _, err := Join(topo, []CloudDisk{{Serial: "a"}}, JoinOptions{}); err == nil {
		t.Error("empty disk ID: no error")
	}
	m, err := Join(topo, nil, JoinOptions{})
	if err != nil || len(m.Disks) != 0 || len(m.Unmapped) != 2 {
		t.Errorf("empty inventory: %+v, %v", m, err)
	}
}
