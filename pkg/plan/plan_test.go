package plan

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/cloud"
)

func disk(id, typ, category string, size int) cloud.Disk {
	return cloud.Disk{ID: id, Type: typ, Category: category, SizeGiB: size, Status: "In_use", ZoneID: "z1"}
}

func TestBuild(t *testing.T) {
	sys := disk("d-sys", "system", "cloud_essd", 40)
	data := disk("d-data", "data", "cloud_essd", 100)
	auto := disk("d-auto", "data", "cloud_auto", 100)
	eff := disk("d-eff", "data", "cloud_efficiency", 200)
	multi := disk("d-multi", "data", "cloud_essd", 100)
	multi.MultiAttach = true
	other := disk("d-zone", "data", "cloud_essd", 100)
	other.ZoneID = "z2"
	local := disk("d-local", "data", "local_ssd_pro", 100)
	detaching := disk("d-detach", "data", "cloud_essd", 100)
	detaching.Status = "Detaching"

	tests := []struct {
		name     string
		disks    []cloud.Disk
		sel      Selection
		limits   Limits
		group    []string
		perDisk  []string
		excluded []string
		wantErr  string
	}{
		{name: "all ESSD: one group", disks: []cloud.Disk{data, sys, auto},
			group: []string{"d-sys", "d-auto", "d-data"}},
		{name: "mixed: group plus per-disk", disks: []cloud.Disk{sys, data, eff},
			group: []string{"d-sys", "d-data"}, perDisk: []string{"d-eff"}},
		{name: "single eligible disk is per-disk", disks: []cloud.Disk{sys, eff},
			perDisk: []string{"d-sys", "d-eff"}},
		{name: "multi-attach and other zone never grouped", disks: []cloud.Disk{sys, data, multi, other},
			group: []string{"d-sys", "d-data"}, perDisk: []string{"d-multi", "d-zone"}},
		{name: "local and detaching excluded", disks: []cloud.Disk{sys, data, local, detaching},
			group: []string{"d-sys", "d-data"}, excluded: []string{"d-detach", "d-local"}},
		{name: "system selection", disks: []cloud.Disk{sys, data}, sel: Selection{Kind: "system"},
			perDisk: []string{"d-sys"}},
		{name: "data selection", disks: []cloud.Disk{sys, data, auto}, sel: Selection{Kind: "data"},
			group: []string{"d-auto", "d-data"}},
		{name: "ids selection", disks: []cloud.Disk{sys, data, eff}, sel: Selection{Kind: "ids", IDs: []string{"d-eff", "d-eff"}},
			perDisk: []string{"d-eff"}},
		{name: "unknown id", disks: []cloud.Disk{sys}, sel: Selection{Kind: "ids", IDs: []string{"d-nope"}},
			wantErr: "d-nope is not attached"},
		{name: "disk limit spills to per-disk", disks: []cloud.Disk{sys, data, auto}, limits: Limits{MaxDisks: 2},
			group: []string{"d-sys", "d-auto"}, perDisk: []string{"d-data"}},
		{name: "capacity limit spills to per-disk", disks: []cloud.Disk{sys, data, auto}, limits: Limits{MaxGiB: 150},
			group: []string{"d-sys", "d-auto"}, perDisk: []string{"d-data"}},
		{name: "nothing left", disks: []cloud.Disk{local}, wantErr: "no disk can be snapshotted: d-local (local disk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Build(Input{InstanceID: "i-1", ZoneID: "z1", Disks: tt.disks, Selection: tt.sel, Limits: tt.limits})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Group, tt.group) {
				t.Errorf("group = %v, want %v", p.Group, tt.group)
			}
			if !slices.Equal(p.PerDisk, tt.perDisk) {
				t.Errorf("per-disk = %v, want %v", p.PerDisk, tt.perDisk)
			}
			var excluded []string
			for _, x := range p.Excluded {
				excluded = append(excluded, x.DiskID)
				if x.Reason == "" {
					t.Errorf("%s excluded without a reason", x.DiskID)
				}
			}
			if !slices.Equal(excluded, tt.excluded) {
				t.Errorf("excluded = %v, want %v", excluded, tt.excluded)
			}
			if len(p.Reasons) == 0 {
				t.Error("a plan must say why")
			}
		})
	}
}

func TestNothingToDoIsTyped(t *testing.T) {
	_, err := Build(Input{Disks: nil})
	var nothing *NothingToDoError
	if !errors.As(err, &nothing) {
		t.Fatalf("err = %v, want *NothingToDoError", err)
	}
}

func TestParseSelection(t *testing.T) {
	tests := []struct {
		in      string
		want    Selection
		wantErr bool
	}{
		{in: "", want: Selection{Kind: "all"}},
		{in: "all", want: Selection{Kind: "all"}},
		{in: "system", want: Selection{Kind: "system"}},
		{in: "data", want: Selection{Kind: "data"}},
		{in: "d-abc,d-def", want: Selection{Kind: "ids", IDs: []string{"d-abc", "d-def"}}},
		{in: " d-abc , ", want: Selection{Kind: "ids", IDs: []string{"d-abc"}}},
		{in: "vda", wantErr: true},
		{in: "d-", wantErr: true},
		{in: ",", wantErr: true},
		{in: "d-a b", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseSelection(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseSelection(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && (got.Kind != tt.want.Kind || !slices.Equal(got.IDs, tt.want.IDs)) {
			t.Errorf("ParseSelection(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}
