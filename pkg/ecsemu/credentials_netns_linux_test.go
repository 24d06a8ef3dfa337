package ecsemu_test

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/aliyun/credentials-go/credentials/providers"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/testenv"
)

// The production path with no overrides: credentials-go's default chain
// finds no keys, falls back to the ECS RAM role at the hard-coded
// 100.100.100.200, where the emulator listens inside a private network
// namespace (with token mode required).
func TestCredentialsFromMetadataInNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "unshare", "ip")
	cmd := helperCommand(t, "netns")
	cmd.Args = append([]string{"unshare", "--net", cmd.Path}, cmd.Args[1:]...)
	cmd.Path, _ = exec.LookPath("unshare")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper in a network namespace: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "instance "+ecsemu.DefaultInstanceID) {
		t.Errorf("helper output: %s", out)
	}
}

// helperNetns runs as root in a fresh network namespace.
func helperNetns() error {
	for _, args := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", ecsemu.MetadataAddress + "/32", "dev", "lo"},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %w: %s", args, err, out)
		}
	}
	sc := ecsemu.DefaultScenario()
	sc.Metadata.TokenRequired = true
	e, err := ecsemu.New(sc, ecsemu.Options{Seed: 1})
	if err != nil {
		return err
	}
	srv, err := ecsemu.Listen(e, ecsemu.ServerConfig{IMDSAddr: ecsemu.MetadataAddress + ":80"})
	if err != nil {
		return err
	}
	defer srv.Close()
	if srv.IMDSURL != "http://"+ecsemu.MetadataAddress+":80" {
		return fmt.Errorf("metadata at %s", srv.IMDSURL)
	}
	chain := providers.NewDefaultCredentialsProvider()
	cred := &credentialsAdapter{p: chain}
	cc, err := cred.GetCredentials()
	if err != nil {
		return fmt.Errorf("default chain: %w", err)
	}
	if !strings.Contains(cc.ProviderName, "ecs_ram_role") {
		return errors.New("credentials came from " + cc.ProviderName + ", not the RAM role")
	}
	host := strings.TrimPrefix(srv.APIURL, "http://")
	return describeWith(cred, host, sc.Region)
}
