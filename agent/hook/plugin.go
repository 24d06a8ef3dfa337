package hook

import (
	"encoding/json"
	"fmt"
	"io"
)

// PluginInput is what the dnf and yum plugins write to `ecssnap hook dnf`
// and `ecssnap hook yum` on stdin, one JSON document:
//
//	{"version": 1, "pid": 4242, "argv": ["/usr/bin/dnf", "-y", "upgrade"],
//	 "packages": [{"action": "upgrade", "name": "openssl", "arch": "x86_64",
//	               "from": "1:1.1.1k-9.al8", "to": "1:1.1.1k-12.al8"}],
//	 "installroot": "/mnt/sysimage"}
//
// pid is the package manager's own process (the plugin runs inside it);
// action is install, upgrade, downgrade, reinstall or remove; installroot
// is there only when the transaction changes another tree (--installroot).
// Unknown fields are ignored, so the plugins may add some.
type PluginInput struct {
	Version  int             `json:"version"`
	PID      int             `json:"pid"`
	Argv     []string        `json:"argv"`
	Packages []PluginPackage `json:"packages"`
	// InstallRoot is dnf's or yum's --installroot when it is not "/".
	InstallRoot string `json:"installroot,omitempty"`
}

// PluginPackage is one package of a dnf or yum transaction.
type PluginPackage struct {
	Action string `json:"action"`
	Name   string `json:"name"`
	Arch   string `json:"arch,omitempty"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
}

// pluginProtocol is the PluginInput version this binary reads.
const pluginProtocol = 1

// maxPluginInput bounds the plugins' JSON.
const maxPluginInput = 32 << 20

// ParsePluginInput reads the dnf and yum plugins' JSON.
func ParsePluginInput(r io.Reader) (*PluginInput, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxPluginInput+1))
	if err != nil {
		return nil, fmt.Errorf("read the plugin's input: %w", err)
	}
	if len(data) > maxPluginInput {
		return nil, fmt.Errorf("the plugin's input is larger than %d bytes", maxPluginInput)
	}
	var in PluginInput
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("decode the plugin's input: %w", err)
	}
	if in.Version != pluginProtocol {
		return nil, fmt.Errorf("plugin protocol version %d, this ecssnap reads %d (plugin and binary from different packages?)", in.Version, pluginProtocol)
	}
	for i, p := range in.Packages {
		if p.Name == "" {
			return nil, fmt.Errorf("package %d has no name", i)
		}
	}
	return &in, nil
}

// Changes converts the packages; an action this binary does not know
// counts as a change.
func (in *PluginInput) Changes() []Change {
	out := make([]Change, 0, len(in.Packages))
	for _, p := range in.Packages {
		action := p.Action
		if _, ok := actionWords[action]; !ok || action == ActionConfigure {
			action = ActionChange
		}
		out = append(out, Change{Action: action, Name: p.Name, Arch: p.Arch, From: p.From, To: p.To})
	}
	return out
}
