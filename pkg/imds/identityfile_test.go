package imds_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/imds"
)

// bootIs returns a BootID func that reports id.
func bootIs(id string) func() (string, error) {
	return func() (string, error) { return id, nil }
}

// keptIdentity reads the identity once through a client that keeps it in
// a file, and returns the file and what was read.
func keptIdentity(t *testing.T, env *ecsemutest.Env) (string, imds.Identity) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "identity.json")
	c := imds.New(imds.Config{Endpoint: env.IMDSURL, IdentityFile: file, BootID: bootIs("boot-1")})
	id, err := c.Identity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return file, id
}

// A later process of the same boot has the identity without the service.
func TestIdentityKeptForTheBoot(t *testing.T) {
	env := ecsemutest.Start(t)
	file, want := keptIdentity(t, env)
	env.Emu.SetFaults(ecsemu.Faults{IMDSOutage: true})
	c := imds.New(imds.Config{Endpoint: env.IMDSURL, IdentityFile: file, BootID: bootIs("boot-1")})
	got, err := c.Identity(context.Background())
	if err != nil {
		t.Fatalf("the identity kept in this boot must not need the service: %v", err)
	}
	if got != want {
		t.Errorf("kept identity = %+v, want %+v", got, want)
	}
}

// What the file holds is not trusted beyond the boot and the endpoint it
// came from, nor when it does not read as an identity: the service is
// asked instead, and the file is written anew.
func TestIdentityFileRefused(t *testing.T) {
	env := ecsemutest.Start(t)
	for _, tc := range []struct {
		name         string
		boot         string
		otherService bool   // ask another metadata service than the file's
		content      string // replaces the file's content when set
	}{
		{name: "another boot (an image of this instance)", boot: "boot-2"},
		{name: "another endpoint", boot: "boot-1", otherService: true},
		{name: "not JSON", boot: "boot-1", content: "<html>"},
		{name: "ill-shaped instance ID", boot: "boot-1",
			content: `{"boot_id":"boot-1","endpoint":"` + env.IMDSURL + `","identity":{"instance_id":"x","region_id":"cn-hangzhou","zone_id":"cn-hangzhou-h"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file, _ := keptIdentity(t, env)
			if tc.content != "" {
				if err := os.WriteFile(file, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			svc := env
			if tc.otherService {
				svc = ecsemutest.Start(t)
			}
			want, err := imds.New(imds.Config{Endpoint: svc.IMDSURL}).Identity(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			svc.Emu.SetFaults(ecsemu.Faults{IMDSOutage: true})
			defer svc.Emu.SetFaults(ecsemu.Faults{})
			c := imds.New(imds.Config{Endpoint: svc.IMDSURL, IdentityFile: file, BootID: bootIs(tc.boot)})
			if _, err := c.Identity(context.Background()); !errors.As(err, new(*imds.UnreachableError)) {
				t.Fatalf("with the service down, err = %v, want *UnreachableError: the file must not have been used", err)
			}
			svc.Emu.SetFaults(ecsemu.Faults{})
			if got, err := c.Identity(context.Background()); err != nil || got != want {
				t.Fatalf("from the service: %+v, %v; want %+v", got, err, want)
			}
			svc.Emu.SetFaults(ecsemu.Faults{IMDSOutage: true})
			again := imds.New(imds.Config{Endpoint: svc.IMDSURL, IdentityFile: file, BootID: bootIs(tc.boot)})
			if got, err := again.Identity(context.Background()); err != nil || got != want {
				t.Errorf("after the service answered, the file should hold this boot's identity: %+v, %v", got, err)
			}
		})
	}
}

// ReadIdentity asks the service whatever is kept: doctor checks the
// service, not the file.
func TestReadIdentityAsksTheService(t *testing.T) {
	env := ecsemutest.Start(t)
	file, _ := keptIdentity(t, env)
	env.Emu.SetFaults(ecsemu.Faults{IMDSOutage: true})
	c := imds.New(imds.Config{Endpoint: env.IMDSURL, IdentityFile: file, BootID: bootIs("boot-1")})
	if _, err := c.ReadIdentity(context.Background()); !errors.As(err, new(*imds.UnreachableError)) {
		t.Errorf("ReadIdentity with the service down: err = %v, want *UnreachableError", err)
	}
}

// Without a boot ID nothing kept can be trusted, and nothing is kept.
func TestIdentityFileNeedsABootID(t *testing.T) {
	env := ecsemutest.Start(t)
	file, _ := keptIdentity(t, env)
	env.Emu.SetFaults(ecsemu.Faults{IMDSOutage: true})
	noBoot := func() (string, error) { return "", errors.New("no /proc") }
	c := imds.New(imds.Config{Endpoint: env.IMDSURL, IdentityFile: file, BootID: noBoot})
	if _, err := c.Identity(context.Background()); !errors.As(err, new(*imds.UnreachableError)) {
		t.Errorf("err = %v, want *UnreachableError: without a boot ID the file must not be used", err)
	}
}
