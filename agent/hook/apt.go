package hook

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// AptInput is what apt writes to a DPkg::Pre-Install-Pkgs hook whose
// DPkg::Tools::Options::<cmd>::Version is 3: "VERSION 3", the whole apt
// configuration as Key=Value lines (%-encoded), a blank line, then one
// line per package action.
type AptInput struct {
	Version int
	// Config holds the configuration in apt's order; keys are compared
	// case-insensitively (apt's tags are), see Get.
	Config []AptConfigItem
	// Actions is one entry per package action, in dpkg's order; a package
	// unpacked and then configured appears twice.
	Actions []AptAction
}

// AptConfigItem is one decoded configuration line. List items have keys
// ending in "::" (DPkg::Pre-Install-Pkgs::=...).
type AptConfigItem struct{ Key, Value string }

// AptAction is one package line: name oldver oldarch oldMA cmp newver
// newarch newMA action. A missing version is "-" with arch "-" and
// multi-arch "none"; cmp is "<" (upgrade), ">" (downgrade or removal), "="
// (same version); action is the .deb path, **CONFIGURE**, **REMOVE** or
// **ERROR**.
type AptAction struct {
	Name                              string
	OldVersion, OldArch, OldMultiArch string
	Compare                           string
	NewVersion, NewArch, NewMultiArch string
	Action                            string
}

// apt's markers in the action field.
const (
	AptConfigure = "**CONFIGURE**"
	AptRemove    = "**REMOVE**"
	AptError     = "**ERROR**" // an install whose file name apt did not have
)

// Get returns the value of key (case-insensitive), the last one set.
func (in *AptInput) Get(key string) (string, bool) {
	for i := len(in.Config) - 1; i >= 0; i-- {
		if strings.EqualFold(in.Config[i].Key, key) {
			return in.Config[i].Value, true
		}
	}
	return "", false
}

// CommandLine is apt's CommandLine::AsString: the apt command as typed,
// e.g. "apt-get install -y curl"; empty for frontends that do not set it
// (unattended-upgrades).
func (in *AptInput) CommandLine() string {
	v, _ := in.Get("CommandLine::AsString")
	return v
}

// maxAptInput bounds the input: the configuration is tens of kilobytes and
// a release upgrade a few thousand package lines.
const maxAptInput = 32 << 20

// ErrAptVersion means the input is not protocol version 3: usually a
// DPkg::Tools::Options key that does not name the hook's first word.
var ErrAptVersion = errors.New("not apt hook protocol version 3")

// ParseAptV3 reads apt's version 3 hook input.
func ParseAptV3(r io.Reader) (*AptInput, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxAptInput+1))
	sc.Buffer(make([]byte, 0, 64<<10), maxAptInput)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read apt hook input: %w", err)
		}
		return nil, fmt.Errorf("empty input: %w", ErrAptVersion)
	}
	head := strings.TrimSpace(sc.Text())
	if head != "VERSION 3" {
		return nil, fmt.Errorf("first line %q: %w", cutRunes(head, 40), ErrAptVersion)
	}
	in := &AptInput{Version: 3}
	line, inConfig, total := 1, true, len(sc.Bytes())+1
	for sc.Scan() {
		line++
		text := sc.Text()
		if total += len(text) + 1; total > maxAptInput {
			return nil, fmt.Errorf("apt hook input is larger than %d bytes", maxAptInput)
		}
		switch {
		case inConfig && text == "":
			inConfig = false
		case inConfig:
			key, value, ok := strings.Cut(text, "=")
			if !ok || key == "" {
				return nil, fmt.Errorf("line %d: configuration line without Key=Value", line)
			}
			in.Config = append(in.Config, AptConfigItem{Key: aptUnquote(key), Value: aptUnquote(value)})
		case text == "":
			// apt writes no blank line among actions; tolerate a trailing one.
		default:
			a, err := parseAptAction(text)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			in.Actions = append(in.Actions, a)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read apt hook input: %w", err)
	}
	if inConfig {
		return nil, errors.New("no blank line after the configuration")
	}
	return in, nil
}

func parseAptAction(text string) (AptAction, error) {
	f := strings.Fields(text)
	if len(f) != 9 {
		return AptAction{}, fmt.Errorf("package line has %d fields, want 9 (name oldver oldarch oldMA cmp newver newarch newMA action)", len(f))
	}
	a := AptAction{
		Name: f[0], OldVersion: f[1], OldArch: f[2], OldMultiArch: f[3], Compare: f[4],
		NewVersion: f[5], NewArch: f[6], NewMultiArch: f[7], Action: f[8],
	}
	switch a.Compare {
	case "<", ">", "=":
	default:
		return AptAction{}, fmt.Errorf("package %s: compare field %q, want <, > or =", a.Name, a.Compare)
	}
	if !strings.HasPrefix(a.Action, "/") && a.Action != AptConfigure && a.Action != AptRemove && a.Action != AptError {
		return AptAction{}, fmt.Errorf("package %s: action %q, want a .deb path, %s or %s", a.Name, a.Action, AptConfigure, AptRemove)
	}
	return a, nil
}

// aptUnquote undoes apt's QuoteString: %XX (hex) for '%', '=', control
// and non-ASCII bytes. A '%' not followed by two hex digits stays as it is.
func aptUnquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// Changes is one Change per package, in dpkg's order: an unpack says
// install, upgrade, downgrade or reinstall (by the compare field), a
// removal says remove, and a configure counts only for a package nothing
// else happens to (dpkg --configure -a finishing an interrupted run).
func (in *AptInput) Changes() []Change {
	var out []Change
	index := map[string]int{}
	for _, a := range in.Actions {
		c := Change{Name: a.Name, Action: aptChangeAction(a), Arch: a.NewArch, From: aptVersion(a.OldVersion), To: aptVersion(a.NewVersion)}
		if c.Arch == "-" {
			c.Arch = a.OldArch
		}
		key := a.Name + ":" + c.Arch
		if i, ok := index[key]; ok {
			if out[i].Action == ActionConfigure && c.Action != ActionConfigure {
				out[i] = c
			}
			continue
		}
		index[key] = len(out)
		out = append(out, c)
	}
	return out
}

func aptChangeAction(a AptAction) string {
	switch {
	case a.Action == AptRemove:
		return ActionRemove
	case a.Action == AptConfigure:
		return ActionConfigure
	case a.OldVersion == "-":
		return ActionInstall
	case a.Compare == "<":
		return ActionUpgrade
	case a.Compare == ">":
		return ActionDowngrade
	}
	return ActionReinstall
}

func aptVersion(v string) string {
	if v == "-" {
		return ""
	}
	return v
}

// aptValueOptions are apt options whose value is the next argument.
var aptValueOptions = map[string]bool{
	"-o": true, "--option": true, "-c": true, "--config-file": true, "-t": true,
	"--target-release": true, "--default-release": true, "-a": true, "--host-architecture": true,
}

// aptSubcommand is the apt command (install, update, ...) in a command
// line such as "apt-get -o Debug::X=1 -y install curl".
func aptSubcommand(cmdline string) string {
	args := strings.Fields(cmdline)
	for i := 1; i < len(args); i++ {
		switch a := args[i]; {
		case aptValueOptions[a]:
			i++
		case strings.HasPrefix(a, "-"):
		default:
			return a
		}
	}
	return ""
}
