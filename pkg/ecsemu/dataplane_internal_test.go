package ecsemu

import (
	"testing"

	"github.com/ecssnap/ecssnap/pkg/ecsemu/dataplane"
)

// The disk lifecycle hooks act on the data plane's bytes, and do nothing
// without one.
func TestDataPlaneDiskHooks(t *testing.T) {
	sc := DefaultScenario()
	sc.Disks = []Disk{{ID: "d-hook0", SizeGiB: 1, Category: "cloud_essd"}}
	bare, err := New(sc, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if bare.bytesNewDisk("d-x", "s-x", 1) != nil || bare.bytesAttach("d-x") != nil || bare.bytesReset("d-x", "s-x") != nil ||
		bare.bytesDetach("d-x") != nil || bare.bytesDelete("d-x") != nil {
		t.Fatal("a hook did something without a data plane")
	}

	p, err := dataplane.New(dataplane.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	e, err := New(sc, Options{Seed: 1, DataPlane: p})
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Capture("s-hook", "d-hook0")
	if err != nil {
		t.Fatal(err)
	}
	if aerr := e.bytesNewDisk("d-fromsnap", s.ID, 0); aerr != nil {
		t.Fatal(aerr)
	}
	if aerr := e.bytesNewDisk("d-empty", "", 1); aerr != nil {
		t.Fatal(aerr)
	}
	if !p.HasDisk("d-fromsnap") || !p.HasDisk("d-empty") {
		t.Fatalf("disks after the hooks: %v", p.Disks())
	}
	if aerr := e.bytesNewDisk("d-bad", "s-none", 0); aerr == nil {
		t.Error("a disk from a snapshot without bytes was made")
	}
	if aerr := e.bytesReset("d-hook0", s.ID); aerr != nil {
		t.Fatal(aerr)
	}
	if aerr := e.bytesDelete("d-empty"); aerr != nil {
		t.Fatal(aerr)
	}
	if p.HasDisk("d-empty") {
		t.Error("deleted disk still has bytes")
	}
}
