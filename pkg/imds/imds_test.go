package imds_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/ecsemutest"
	"github.com/ecssnap/ecssnap/pkg/imds"
)

func TestIdentityAndDisks(t *testing.T) {
	sc := ecsemu.DefaultScenario()
	sc.Metadata.TokenRequired = true
	env := ecsemutest.Start(t, ecsemutest.WithScenario(sc))
	c := imds.New(imds.Config{Endpoint: env.IMDSURL})

	id, err := c.Identity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := imds.Identity{InstanceID: sc.Instance.ID, RegionID: sc.Region, ZoneID: sc.Instance.ZoneID, InstanceType: sc.Instance.Type}
	if id != want {
		t.Errorf("Identity = %+v, want %+v", id, want)
	}
	serials, err := c.DiskSerials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range sc.Disks {
		if d.Serial != "" && serials[d.Serial] != d.ID {
			t.Errorf("serial %s maps to %q, want %s", d.Serial, serials[d.Serial], d.ID)
		}
	}
	if _, err := c.Get(context.Background(), "no-such-item"); !errors.Is(err, imds.ErrNotFound) {
		t.Errorf("unknown item: err = %v, want ErrNotFound", err)
	}
}

func TestIdentityIsCached(t *testing.T) {
	env := ecsemutest.Start(t)
	c := imds.New(imds.Config{Endpoint: env.IMDSURL})
	if _, err := c.Identity(context.Background()); err != nil {
		t.Fatal(err)
	}
	env.Emu.SetFaults(ecsemu.Faults{IMDSOutage: true})
	if _, err := c.Identity(context.Background()); err != nil {
		t.Errorf("a cached identity must not need the metadata service: %v", err)
	}
}

// A token the service no longer accepts (its TTL passed on the service's
// clock) is replaced once, transparently.
func TestExpiredTokenIsRefetched(t *testing.T) {
	clock := ecsemu.NewVirtualClock(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	env := ecsemutest.Start(t, ecsemutest.WithClock(clock))
	c := imds.New(imds.Config{Endpoint: env.IMDSURL, TokenTTL: time.Minute})
	if _, err := c.Get(context.Background(), "instance-id"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute) // the service's clock only: the client still trusts its token
	got, err := c.Get(context.Background(), "region-id")
	if err != nil {
		t.Fatalf("after token expiry: %v", err)
	}
	if got != env.RegionID {
		t.Errorf("region-id = %q, want %q", got, env.RegionID)
	}
}

func TestUnreachable(t *testing.T) {
	// A port nothing listens on: connection refused, as off ECS.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()

	c := imds.New(imds.Config{Endpoint: url})
	start := time.Now()
	_, err = c.Identity(context.Background())
	elapsed := time.Since(start)
	var un *imds.UnreachableError
	if !errors.As(err, &un) {
		t.Fatalf("err = %v, want *UnreachableError", err)
	}
	if !strings.Contains(err.Error(), "metadata service at "+url+" is unreachable: is this an ECS instance?") {
		t.Errorf("message = %q", err.Error())
	}
	if elapsed > 3*time.Second {
		t.Errorf("took %v to give up, want under 3 s", elapsed)
	}
}

func TestOutageIsUnreachable(t *testing.T) {
	env := ecsemutest.Start(t, ecsemutest.WithFaults(ecsemu.Faults{IMDSOutage: true}))
	c := imds.New(imds.Config{Endpoint: env.IMDSURL})
	start := time.Now()
	_, err := c.Identity(context.Background())
	var un *imds.UnreachableError
	if !errors.As(err, &un) {
		t.Fatalf("err = %v, want *UnreachableError", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("outage detection took %v", time.Since(start))
	}
}

// A service that never answers (accepts, then says nothing) is given up on
// within the budget.
func TestSilentServiceWithinBudget(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
		}
	}()
	c := imds.New(imds.Config{Endpoint: "http://" + l.Addr().String()})
	start := time.Now()
	_, err = c.Get(context.Background(), "instance-id")
	var un *imds.UnreachableError
	if !errors.As(err, &un) {
		t.Fatalf("err = %v, want *UnreachableError", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("gave up after %v, want under 3 s", d)
	}
}
