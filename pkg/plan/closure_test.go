package plan

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/cloud"
)

// lvmLocal: / on d-sys; /data is LVM over d-a and d-b; /logs on d-c alone.
func lvmLocal() *Local {
	return &Local{
		Devices: map[string]string{"d-sys": "vda", "d-a": "vdb", "d-b": "vdc", "d-c": "vdd"},
		Filesystems: []Filesystem{
			{MountPoint: "/", FSType: "ext4", Dev: "253:1", Disks: []string{"d-sys"}},
			{MountPoint: "/data", Mounts: []string{"/data", "/srv/data"}, FSType: "xfs", Dev: "252:0", Disks: []string{"d-a", "d-b"}},
			{MountPoint: "/logs", FSType: "ext4", Dev: "253:48", Disks: []string{"d-c"}},
			{MountPoint: "/run", FSType: "tmpfs", Dev: "0:25"},
			{MountPoint: "/scratch", FSType: "ext4", Dev: "259:3", LocalOnly: []string{"nvme1n1"}},
		},
	}
}

func TestClosures(t *testing.T) {
	sys := disk("d-sys", "system", "cloud_essd", 40)
	a := disk("d-a", "data", "cloud_essd", 100)
	b := disk("d-b", "data", "cloud_essd", 100)
	bEff := disk("d-b", "data", "cloud_efficiency", 100)
	c := disk("d-c", "data", "cloud_efficiency", 100)

	tests := []struct {
		name              string
		disks             []cloud.Disk
		sel               Selection
		mounts            []string
		freeze, allow     bool
		limits            Limits
		group, perDisk    []string
		freezeSet         []string
		wantErr           string
		wantInconsistent  bool
		wantReasonContain string
	}{
		{name: "selecting one disk pulls in its filesystem's other disk", disks: []cloud.Disk{sys, a, b, c},
			sel: Selection{Kind: "ids", IDs: []string{"d-a"}}, group: []string{"d-a", "d-b"},
			wantReasonContain: "d-b: added, because a filesystem spans it and d-a"},
		{name: "--mount selects the filesystem's disks", disks: []cloud.Disk{sys, a, b, c}, mounts: []string{"/srv/data/"},
			group: []string{"d-a", "d-b"}},
		{name: "--mount of a single-disk filesystem", disks: []cloud.Disk{sys, a, b, c}, mounts: []string{"/logs"},
			perDisk: []string{"d-c"}},
		{name: "--mount not a mount point", disks: []cloud.Disk{sys, a, b, c}, mounts: []string{"/etc"}, wantErr: "--mount /etc: not a mount point"},
		{name: "--mount on a local disk", disks: []cloud.Disk{sys, a, b, c}, mounts: []string{"/scratch"}, wantErr: "nvme1n1, which is not a cloud disk"},
		{name: "--mount on tmpfs", disks: []cloud.Disk{sys, a, b, c}, mounts: []string{"/run"}, wantErr: "a tmpfs filesystem on no disk"},
		{name: "ungroupable closure without freezing is refused", disks: []cloud.Disk{sys, a, bEff, c},
			wantErr: "/data span disks d-a, d-b, which cannot be captured at one point in time: they cannot all join one snapshot group and freezing is off"},
		{name: "ungroupable closure is frozen", disks: []cloud.Disk{sys, a, bEff, c}, freeze: true,
			group: []string{"d-sys", "d-a"}, perDisk: []string{"d-b", "d-c"}, freezeSet: []string{"/data", "/logs", "/"},
			wantReasonContain: "d-a, d-b: one point in time by freezing /data"},
		{name: "ungroupable closure accepted as inconsistent", disks: []cloud.Disk{sys, a, bEff, c}, allow: true,
			group: []string{"d-sys", "d-a"}, perDisk: []string{"d-b", "d-c"}, wantInconsistent: true},
		{name: "a closure is never split by the group limit", disks: []cloud.Disk{sys, a, b, c}, limits: Limits{MaxDisks: 2},
			perDisk: []string{"d-a", "d-b", "d-sys", "d-c"}, wantErr: "cannot all join one snapshot group"},
		{name: "group limit spills whole closures, frozen", disks: []cloud.Disk{sys, a, b, c}, limits: Limits{MaxDisks: 2}, freeze: true,
			perDisk: []string{"d-sys", "d-a", "d-b", "d-c"}, freezeSet: []string{"/data", "/logs", "/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Build(Input{ZoneID: "z1", Disks: tt.disks, Selection: tt.sel, Mounts: tt.mounts, Local: lvmLocal(),
				Freeze: tt.freeze, AllowInconsistent: tt.allow, Limits: tt.limits})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Group, tt.group) {
				t.Errorf("group = %v, want %v", p.Group, tt.group)
			}
			if tt.perDisk != nil && !sameSet(p.PerDisk, tt.perDisk) {
				t.Errorf("per-disk = %v, want %v", p.PerDisk, tt.perDisk)
			}
			var frozen []string
			for _, f := range p.FreezeSet {
				frozen = append(frozen, f.MountPoint)
			}
			if !slices.Equal(frozen, tt.freezeSet) {
				t.Errorf("freeze set = %v, want %v", frozen, tt.freezeSet)
			}
			if p.Inconsistent != tt.wantInconsistent {
				t.Errorf("inconsistent = %v", p.Inconsistent)
			}
			if tt.wantReasonContain != "" && !strings.Contains(strings.Join(p.Reasons, "\n"), tt.wantReasonContain) {
				t.Errorf("reasons %q lack %q", p.Reasons, tt.wantReasonContain)
			}
		})
	}
}

func TestInconsistentErrorIsTyped(t *testing.T) {
	_, err := Build(Input{Disks: []cloud.Disk{disk("d-a", "data", "cloud_essd", 1), disk("d-b", "data", "cloud_efficiency", 1)}, Local: lvmLocal()})
	var ie *InconsistentError
	if !errors.As(err, &ie) || !slices.Equal(ie.Disks, []string{"d-a", "d-b"}) {
		t.Fatalf("err = %v", err)
	}
}

func TestClosureUnion(t *testing.T) {
	// md over a+b and LVM over b+c chain into one closure {a, b, c}.
	l := &Local{Filesystems: []Filesystem{
		{MountPoint: "/x", Disks: []string{"d-a", "d-b"}},
		{MountPoint: "/y", Disks: []string{"d-c", "d-b"}},
		{MountPoint: "/z", Disks: []string{"d-e"}},
	}}
	got := l.closures()
	if len(got) != 2 || !slices.Equal(got[0], []string{"d-a", "d-b", "d-c"}) || !slices.Equal(got[1], []string{"d-e"}) {
		t.Errorf("closures = %v", got)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
