package topology

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/topology/topologytest"
)

var (
	update        = flag.Bool("update", false, "rewrite testdata/golden/*.json from the current results")
	writeFixtures = flag.Bool("write-fixtures", false, "rewrite testdata/*.tree and *.cloud.json from fixtures_test.go")
)

// capturedFixtures were written by scripts/capture-topology on a real
// machine rather than built by fixtures_test.go.
func capturedFixtures() []string { return []string{"this-machine"} }

// loadFixture unpacks testdata/NAME.tree and reads the cloud side.
func loadFixture(t testing.TB, name string) (string, cloudSide) {
	t.Helper()
	root := topologytest.Extract(t, name)
	data, err := os.ReadFile(filepath.Join("testdata", name+".cloud.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cs cloudSide
	if err := json.Unmarshal(data, &cs); err != nil {
		t.Fatalf("%s.cloud.json: %v", name, err)
	}
	return root, cs
}

func fixtureNames() []string {
	var names []string
	for _, f := range fixtures() {
		names = append(names, f.name)
	}
	return append(names, capturedFixtures()...)
}

// TestFixtureArchivesUpToDate fails when a committed fixture archive no
// longer matches its spec in fixtures_test.go (or, with -write-fixtures,
// rewrites it).
func TestFixtureArchivesUpToDate(t *testing.T) {
	for _, f := range fixtures() {
		t.Run(f.name, func(t *testing.T) {
			tree, err := topologytest.Format(f.tree().build())
			if err != nil {
				t.Fatal(err)
			}
			cloud, err := json.MarshalIndent(f.cloud, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			cloud = append(cloud, '\n')
			for file, want := range map[string][]byte{f.name + ".tree": tree, f.name + ".cloud.json": cloud} {
				path := filepath.Join("testdata", file)
				if *writeFixtures {
					if err := os.WriteFile(path, want, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				got, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from its spec in fixtures_test.go; run go test ./pkg/topology -run TestFixtureArchivesUpToDate -write-fixtures", path)
				}
			}
		})
	}
}

// goldenView is what the golden files hold: Discover and Join, plus the
// answers of the lookups for every mount and disk.
type goldenView struct {
	Disks    []string                `json:"disks"`
	Devices  map[string]*BlockDevice `json:"devices"`
	Btrfs    map[string][]string     `json:"btrfs,omitempty"`
	Mounts   []goldenMount           `json:"mounts"`
	Holders  map[string][]string     `json:"holders"`
	Mapping  *Mapping                `json:"mapping"`
	Warnings []string                `json:"warnings,omitempty"`
}

type goldenMount struct {
	Mount      Mount    `json:"mount"`
	DisksUnder []string `json:"disks_under,omitempty"`
	Error      string   `json:"error,omitempty"`
}

func discoverFixture(t testing.TB, name string) (*Topology, *Mapping) {
	t.Helper()
	root, cs := loadFixture(t, name)
	topo, err := New(root).Discover()
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	m, err := Join(topo, cs.Disks, JoinOptions{MetadataSerials: cs.MetadataSerials})
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	return topo, m
}

func TestGolden(t *testing.T) {
	for _, name := range fixtureNames() {
		t.Run(name, func(t *testing.T) {
			topo, m := discoverFixture(t, name)
			v := goldenView{Devices: topo.Devices, Btrfs: topo.Btrfs, Holders: map[string][]string{}, Mapping: m, Warnings: topo.Warnings}
			for _, d := range topo.Disks() {
				v.Disks = append(v.Disks, d.Name)
				v.Holders[d.Name] = topo.Holders(d.Name)
			}
			for _, mnt := range topo.Mounts {
				gm := goldenMount{Mount: mnt}
				disks, err := topo.DisksUnder(mnt)
				gm.DisksUnder = disks
				if err != nil {
					gm.Error = err.Error()
				}
				v.Mounts = append(v.Mounts, gm)
			}
			got, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/topology -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s drifted; diff it against the result of go test ./pkg/topology -update:\n%s", path, firstDiff(want, got))
			}
		})
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(want, got []byte) string {
	wl, gl := bytes.Split(want, []byte("\n")), bytes.Split(got, []byte("\n"))
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g []byte
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if !bytes.Equal(w, g) {
			return "line " + itoa(i+1) + ":\n- " + string(w) + "\n+ " + string(g)
		}
	}
	return "(no line differs)"
}

func itoa(i int) string { return string(appendInt(nil, i)) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

// want describes what one fixture must yield; the golden files pin the
// rest.
type want struct {
	disks    []string
	closures map[string][]string // mount point -> DisksUnder; nil: not on disks
	errs     map[string]error    // mount point -> DisksUnder error (errors.Is)
	bind     []string            // mount points that are bind mounts
	readOnly []string
	devices  map[string]func(*BlockDevice) bool // checks on single devices
	mapped   map[string]MatchMethod             // device -> how it was mapped
	unmapped map[string]Reason                  // local device -> reason
	cloudWhy map[string]Reason                  // disk ID -> reason
	holders  map[string][]string
	warnings int // mapping warnings
}

func TestDiscoverFixtures(t *testing.T) {
	tests := map[string]want{
		"virtio-system": {
			disks:    []string{"vda"},
			closures: map[string][]string{"/": {"vda"}, "/boot/efi": {"vda"}, "/proc": nil, "/dev/shm": nil},
			devices: map[string]func(*BlockDevice) bool{
				"vda": func(d *BlockDevice) bool {
					return d.Transport == TransportVirtio && d.Serial == "bp1a1b2c3d4e5f6g7h8i" && d.SizeBytes == 40*gib &&
						slices.Equal(d.Partitions, []string{"vda1", "vda2", "vda3"}) && slices.Contains(d.ByID, "virtio-bp1a1b2c3d4e5f6g7h8i")
				},
				"vda3": func(d *BlockDevice) bool {
					return d.Kind == KindPartition && d.Parent == "vda" && d.Transport == TransportVirtio
				},
			},
			mapped:  map[string]MatchMethod{"vda": MatchSerial},
			holders: map[string][]string{"vda": {"vda1", "vda2", "vda3"}},
		},
		"nvme": {
			disks:    []string{"nvme0n1", "nvme1n1", "nvme2n1", "nvme3n1"},
			closures: map[string][]string{"/": {"nvme0n1"}, "/data": {"nvme1n1"}, "/var/lib/mysql": {"nvme2n1"}},
			devices: map[string]func(*BlockDevice) bool{
				// Serial on the controller, space padding stripped.
				"nvme0n1": func(d *BlockDevice) bool {
					return d.Transport == TransportNVMe && d.Serial == "2ze0nvmesys00000001" && d.Model == "Alibaba Cloud Elastic Block Storage"
				},
				// Native multipath: the serial comes from the NVMe subsystem.
				"nvme1n1":   func(d *BlockDevice) bool { return d.Transport == TransportNVMe && d.Serial == "2ze0nvmedata0000001" },
				"nvme0n1p2": func(d *BlockDevice) bool { return d.Parent == "nvme0n1" && d.Transport == TransportNVMe },
			},
			mapped:   map[string]MatchMethod{"nvme0n1": MatchSerial, "nvme1n1": MatchSerial, "nvme2n1": MatchMetadata},
			unmapped: map[string]Reason{"nvme3n1": ReasonLocalDisk},
		},
		"lvm": {
			disks:    []string{"vda", "vdb", "vdc"},
			closures: map[string][]string{"/home": {"vdb", "vdc"}, "/var/lib/db": {"vdb", "vdc"}, "/scratch": {"vdc"}, "/": {"vda"}},
			devices: map[string]func(*BlockDevice) bool{
				"dm-0": func(d *BlockDevice) bool { return d.Kind == KindDM && d.DMKind == DMKindLVM && d.DMName == "data-home" },
			},
			mapped:  map[string]MatchMethod{"vda": MatchSerial, "vdb": MatchSerial, "vdc": MatchSerial},
			holders: map[string][]string{"vdc": {"dm-0", "dm-1", "dm-2"}},
		},
		"lvm-thin": {
			disks:    []string{"vda", "vdb", "vdc"},
			closures: map[string][]string{"/srv/thin1": {"vdb", "vdc"}, "/srv/thin2": {"vdb", "vdc"}},
			devices: map[string]func(*BlockDevice) bool{
				"dm-2": func(d *BlockDevice) bool { return d.DMKind == DMKindThinPool },
				"dm-3": func(d *BlockDevice) bool { return d.DMKind == DMKindThinPool && d.ReadOnly },
				"dm-4": func(d *BlockDevice) bool { return d.DMKind == DMKindThin },
				"dm-1": func(d *BlockDevice) bool { return d.DMKind == DMKindLVM },
			},
			holders: map[string][]string{"vdb": {"vdb1", "dm-0", "dm-1", "dm-2", "dm-3", "dm-4", "dm-5"}},
		},
		"md-raid1": {
			disks:    []string{"vda", "vdb", "vdc"},
			closures: map[string][]string{"/data": {"vdb", "vdc"}},
			devices: map[string]func(*BlockDevice) bool{
				"md127": func(d *BlockDevice) bool {
					return d.Kind == KindMD && d.MDLevel == "raid1" && slices.Equal(d.Slaves, []string{"vdb1", "vdc1"})
				},
				"vdb1": func(d *BlockDevice) bool { return slices.Equal(d.Holders, []string{"md127"}) },
			},
			holders: map[string][]string{"vdc": {"vdc1", "md127"}},
		},
		"btrfs": {
			disks:    []string{"vda", "vdb", "vdc", "vdd"},
			closures: map[string][]string{"/data": {"vdb", "vdc"}, "/data/.snapshots": {"vdb", "vdc"}, "/backup": {"vdd"}},
			bind:     []string{"/data/.snapshots"},
		},
		"crypt-on-lvm": {
			disks:    []string{"vda", "vdb", "vdc"},
			closures: map[string][]string{"/secure": {"vdb", "vdc"}},
			devices: map[string]func(*BlockDevice) bool{
				"dm-1": func(d *BlockDevice) bool { return d.DMKind == DMKindCrypt && d.DMName == "vault_crypt" },
			},
			holders: map[string][]string{"vdb": {"dm-0", "dm-1"}},
		},
		"no-serial": {
			disks:    []string{"loop0", "vda", "vdb", "vdc", "zram0"},
			closures: map[string][]string{"/opt/tools": {"loop0"}, "/data": {"vdb"}},
			readOnly: []string{"/opt/tools"},
			devices: map[string]func(*BlockDevice) bool{
				"vda":   func(d *BlockDevice) bool { return d.Serial == "" && d.Transport == TransportVirtio },
				"loop0": func(d *BlockDevice) bool { return d.Kind == KindLoop && d.BackingFile == "/var/lib/images/tools.img" },
				"loop1": func(d *BlockDevice) bool { return d.Kind == KindLoop && d.SizeBytes == 0 },
				"zram0": func(d *BlockDevice) bool { return d.Kind == KindDisk && d.Transport == TransportOther },
			},
			mapped: map[string]MatchMethod{"vdb": MatchIDPrefix},
			unmapped: map[string]Reason{
				"vda": ReasonNoSerial, "vdc": ReasonUnknownSerial, "loop0": ReasonLoopDevice, "zram0": ReasonVirtualDevice,
			},
			cloudWhy: map[string]Reason{"d-bp1oldsystem": ReasonNoSerial, "d-bp1notinguest000001": ReasonNoLocalDevice},
			warnings: 1,
		},
		"multi-attach": {
			disks:    []string{"nvme0n1", "nvme1n1"},
			closures: map[string][]string{"/shared": {"nvme1n1"}, "/": {"nvme0n1"}},
			mapped:   map[string]MatchMethod{"nvme0n1": MatchSerial, "nvme1n1": MatchSerial},
		},
		"nested-bind": {
			disks: []string{"loop0", "vda", "vdb", "vdc"},
			closures: map[string][]string{
				"/data": {"vdb"}, "/data/logs": {"vdc"}, "/srv/www": {"vdb"}, "/mnt/my disk": {"vdc"},
				`/mnt/back\slash`: {"vdb"}, "/mnt/tab\there": nil, "/mnt/new\nline": {"vdb"},
				"/var/lib/docker/overlay2/4e1c/merged": nil, "/data/iso/mnt": {"loop0"},
			},
			bind:     []string{"/srv/www", "/mnt/my disk", `/mnt/back\slash`, "/mnt/new\nline"},
			readOnly: []string{`/mnt/back\slash`, "/data/iso/mnt"},
			unmapped: map[string]Reason{"loop0": ReasonLoopDevice},
		},
		"xen-scsi": {
			disks:    []string{"sda", "sdb", "xvda", "xvdb"},
			closures: map[string][]string{"/": {"xvda"}, "/data": {"xvdb"}, "/scsi": {"sda"}},
			devices: map[string]func(*BlockDevice) bool{
				"sda": func(d *BlockDevice) bool {
					return d.Transport == TransportSCSI && d.Serial == "8vbscsi0000000001" && d.Model == "CLOUD DISK"
				},
				"sdb":  func(d *BlockDevice) bool { return d.Serial == "" },
				"xvda": func(d *BlockDevice) bool { return d.Transport == TransportXen && d.Serial == "" },
			},
			mapped:   map[string]MatchMethod{"sda": MatchSerial},
			unmapped: map[string]Reason{"xvda": ReasonNoSerial, "xvdb": ReasonNoSerial, "sdb": ReasonNoSerial},
			cloudWhy: map[string]Reason{"d-xenold00000000001": ReasonNoSerial, "d-xenold00000000002": ReasonNoSerial},
		},
		"this-machine": {
			// A Firecracker VM: virtio vda whose serial Firecracker made up
			// (written without a newline, as virtio-blk does), idle loop
			// devices and an unconfigured zram, both of size 0.
			disks:    []string{"vda"},
			closures: map[string][]string{"/": {"vda"}, "/proc": nil},
			devices: map[string]func(*BlockDevice) bool{
				"vda": func(d *BlockDevice) bool {
					return d.Transport == TransportVirtio && d.Serial == "18166338126944255" && d.Kind == KindDisk
				},
				"loop3": func(d *BlockDevice) bool { return d.Kind == KindLoop && d.SizeBytes == 0 },
			},
			unmapped: map[string]Reason{"vda": ReasonUnknownSerial},
			cloudWhy: map[string]Reason{"d-thismachine0000001": ReasonNoSerial},
		},
	}
	for _, name := range fixtureNames() {
		w, ok := tests[name]
		if !ok {
			t.Errorf("fixture %s has no expectations", name)
			continue
		}
		t.Run(name, func(t *testing.T) { checkFixture(t, name, w) })
	}
}

func checkFixture(t *testing.T, name string, w want) {
	topo, m := discoverFixture(t, name)
	if w.disks != nil {
		var got []string
		for _, d := range topo.Disks() {
			got = append(got, d.Name)
		}
		if !slices.Equal(got, w.disks) {
			t.Errorf("Disks() = %v, want %v", got, w.disks)
		}
	}
	byPoint := make(map[string]Mount)
	for _, mnt := range topo.Mounts {
		byPoint[mnt.MountPoint] = mnt
	}
	for point, wantDisks := range w.closures {
		mnt, ok := byPoint[point]
		if !ok {
			t.Errorf("no mount at %q", point)
			continue
		}
		got, err := topo.DisksUnder(mnt)
		if err != nil || !slices.Equal(got, wantDisks) {
			t.Errorf("DisksUnder(%q) = %v, %v; want %v", point, got, err, wantDisks)
		}
		for _, disk := range wantDisks {
			if !slices.ContainsFunc(topo.MountsOn(disk), func(x Mount) bool { return x.MountPoint == point }) {
				t.Errorf("MountsOn(%s) lacks %q", disk, point)
			}
		}
	}
	for point, wantErr := range w.errs {
		if _, err := topo.DisksUnder(byPoint[point]); !errors.Is(err, wantErr) {
			t.Errorf("DisksUnder(%q) error = %v, want %v", point, err, wantErr)
		}
	}
	for _, mnt := range topo.Mounts {
		if got, want := mnt.Bind, slices.Contains(w.bind, mnt.MountPoint); got != want && (w.bind != nil || got) && w.bind != nil {
			t.Errorf("%q: Bind = %v, want %v", mnt.MountPoint, got, want)
		}
	}
	for _, point := range w.readOnly {
		if !byPoint[point].ReadOnly {
			t.Errorf("%q: ReadOnly = false", point)
		}
	}
	for dev, check := range w.devices {
		d := topo.Devices[dev]
		if d == nil || !check(d) {
			got, _ := json.Marshal(d)
			t.Errorf("device %s: check failed: %s", dev, got)
		}
	}
	for dev, method := range w.mapped {
		dm, ok := m.ByDevice(dev)
		if !ok || dm.Method != method || dm.Reason != "" {
			t.Errorf("mapping of %s = %+v, want method %s", dev, dm, method)
		}
	}
	for dev, reason := range w.unmapped {
		i := slices.IndexFunc(m.Unmapped, func(l LocalDisk) bool { return l.Device == dev })
		if i < 0 || m.Unmapped[i].Reason != reason {
			t.Errorf("unmapped %s: got %+v, want reason %s", dev, m.Unmapped, reason)
		}
	}
	for id, reason := range w.cloudWhy {
		dm, ok := m.ByDiskID(id)
		if !ok || dm.Reason != reason || dm.Device != "" {
			t.Errorf("cloud disk %s: %+v, want reason %s", id, dm, reason)
		}
	}
	for disk, wantHolders := range w.holders {
		if got := topo.Holders(disk); !reflect.DeepEqual(got, wantHolders) {
			t.Errorf("Holders(%s) = %v, want %v", disk, got, wantHolders)
		}
	}
	if len(m.Warnings) != w.warnings {
		t.Errorf("mapping warnings = %q, want %d", m.Warnings, w.warnings)
	}
}

// TestTopologyJSONRoundTrip checks that a Topology saved as JSON and read
// back (as the CLI or a planner test may do) answers like the original.
func TestTopologyJSONRoundTrip(t *testing.T) {
	topo, _ := discoverFixture(t, "btrfs")
	data, err := json.Marshal(topo)
	if err != nil {
		t.Fatal(err)
	}
	var back Topology
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	for i, m := range topo.Mounts {
		if back.Mounts[i].Device() != m.Device() {
			t.Errorf("%s: device %q, want %q", m.MountPoint, back.Mounts[i].Device(), m.Device())
		}
		want, werr := topo.DisksUnder(m)
		got, gerr := back.DisksUnder(back.Mounts[i])
		if !slices.Equal(got, want) || (werr == nil) != (gerr == nil) {
			t.Errorf("%s: DisksUnder %v, %v after the round trip; %v, %v before", m.MountPoint, got, gerr, want, werr)
		}
	}
	if !reflect.DeepEqual(back.Devices, topo.Devices) {
		t.Error("devices changed in the round trip")
	}
}
