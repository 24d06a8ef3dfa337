package topology

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/testenv"
	"github.com/ecssnap/ecssnap/pkg/topology/topologytest"
)

// TestCaptureScript runs scripts/capture-topology over fixture trees
// (CAPTURE_ROOT) and checks that Discover sees the copy exactly as it sees
// the original. The script forks a few times per file, which is slow on
// small VMs, so it runs over the fixtures that exercise distinct parts of
// it: NVMe controllers and subsystems, dm slaves and holders, btrfs,
// binary VPD pages, escaped mount points, and a real capture as a
// directory tree.
func TestCaptureScript(t *testing.T) {
	testenv.RequireTool(t, "sh", "od", "tr", "readlink", "mktemp", "wc")
	script, err := filepath.Abs("../../scripts/capture-topology")
	if err != nil {
		t.Fatal(err)
	}
	for name, dest := range map[string]string{
		"nvme": "copy.tree", "lvm-thin": "copy.tree", "btrfs": "copy.tree", "xen-scsi": "copy.tree",
		"nested-bind": "copy.tree", "this-machine": "tree",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := topologytest.Extract(t, name)
			want, err := New(src).Discover()
			if err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			dest := filepath.Join(out, dest)
			capture := func() *exec.Cmd {
				cmd := exec.Command("sh", script, dest)
				cmd.Env = append(os.Environ(), "CAPTURE_ROOT="+src)
				return cmd
			}
			if msg, err := capture().CombinedOutput(); err != nil {
				t.Fatalf("capture-topology %s: %v\n%s", dest, err, msg)
			}
			root := dest
			if filepath.Ext(dest) == ".tree" {
				data, err := os.ReadFile(dest)
				if err != nil {
					t.Fatal(err)
				}
				entries, err := topologytest.Parse(data)
				if err != nil {
					t.Fatalf("captured archive: %v", err)
				}
				root = filepath.Join(out, "unpacked")
				if err := topologytest.WriteTree(root, entries); err != nil {
					t.Fatal(err)
				}
			}
			got, err := New(root).Discover()
			if err != nil {
				t.Fatalf("Discover on the capture: %v", err)
			}
			if !reflect.DeepEqual(got.Devices, want.Devices) || !reflect.DeepEqual(got.Mounts, want.Mounts) ||
				!reflect.DeepEqual(got.Btrfs, want.Btrfs) || !reflect.DeepEqual(got.Warnings, want.Warnings) {
				t.Errorf("%s: the capture differs from its source", filepath.Base(dest))
				for n, d := range want.Devices {
					if !reflect.DeepEqual(got.Devices[n], d) {
						t.Errorf("  %s: got %+v\n  want %+v", n, got.Devices[n], d)
					}
				}
			}
			if err := capture().Run(); err == nil {
				t.Error("capture-topology overwrote an existing DEST")
			}
		})
	}
}
