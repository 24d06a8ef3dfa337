package hook

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
)

// apt is DPkg::Pre-Install-Pkgs with protocol version 3 on stdin. apt
// runs it after the user said yes and the downloads finished, right
// before dpkg; a non-zero exit stops apt before dpkg changes anything.
func (h *hook) apt(ctx context.Context, args []string, in io.Reader) int {
	if !h.noArgs("apt", args) {
		return ExitUsage
	}
	tx := transaction{manager: "apt", trigger: "apt"}
	input, err := ParseAptV3(in)
	if err != nil {
		// A snapshot too many beats a missed one.
		h.say("WARNING: ecssnap: could not read apt's package list (%v); taking the snapshot anyway", err)
		tx.unknown = true
		return h.snapshot(ctx, tx)
	}
	tx.cmdline = input.CommandLine()
	if aptSubcommand(tx.cmdline) == "update" {
		return ExitGoOn // apt update changes no package: never a snapshot
	}
	tx.changes = input.Changes()
	return h.snapshot(ctx, tx)
}

// plugin is the dnf (dnf4) and yum (yum 3) plugins' call: PluginInput on
// stdin. The plugins stop the transaction when the exit code is not 0.
func (h *hook) plugin(ctx context.Context, manager string, args []string, in io.Reader) int {
	if !h.noArgs(manager, args) {
		return ExitUsage
	}
	tx := transaction{manager: manager, trigger: manager}
	input, err := ParsePluginInput(in)
	if err != nil {
		h.say("WARNING: ecssnap: could not read the %s plugin's package list (%v); taking the snapshot anyway", manager, err)
		tx.unknown = true
		return h.snapshot(ctx, tx)
	}
	tx.pid, tx.cmdline, tx.changes = input.PID, commandLine(input.Argv), input.Changes()
	if r := strings.TrimSpace(input.InstallRoot); r != "" && path.Clean(r) != "/" {
		tx.installRoot = path.Clean(r)
	}
	return h.snapshot(ctx, tx)
}

// dnf5 is the actions plugin's pre_transaction action, `ecssnap hook dnf5
// ${pid}`: no package list, and stdout is read by dnf5 as commands, so
// nothing is printed there. Its trigger is dnf: the same package manager
// to coalescing and retention.
func (h *hook) dnf5(ctx context.Context, args []string) int {
	tx := transaction{manager: "dnf5", trigger: "dnf", unknown: true}
	switch len(args) {
	case 0:
	case 1:
		pid, err := strconv.Atoi(args[0])
		if err != nil || pid <= 0 {
			h.say("ecssnap hook dnf5: %q is not a process ID (the actions file passes ${pid})", args[0])
			return ExitUsage
		}
		tx.pid = pid
	default:
		h.say("ecssnap hook dnf5: want at most one argument, dnf5's ${pid}; got %q", args)
		return ExitUsage
	}
	return h.snapshot(ctx, tx)
}

// maxTargets bounds pacman's target list.
const maxTargets = 100000

// pacman is a PreTransaction hook with NeedsTargets: the matched package
// names on stdin, one a line. AbortOnFail stops pacman when the exit code
// is not 0.
func (h *hook) pacman(ctx context.Context, args []string, in io.Reader) int {
	if !h.noArgs("pacman", args) {
		return ExitUsage
	}
	tx := transaction{manager: "pacman", trigger: "pacman"}
	targets, err := readTargets(in)
	if err != nil {
		h.say("WARNING: ecssnap: could not read pacman's targets (%v); taking the snapshot anyway", err)
		tx.unknown = true
	}
	for _, t := range targets {
		tx.changes = append(tx.changes, Change{Action: ActionChange, Name: t})
	}
	return h.snapshot(ctx, tx)
}

func readTargets(in io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" {
			if len(out) == maxTargets {
				return out, fmt.Errorf("more than %d targets", maxTargets)
			}
			out = append(out, t)
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read targets: %w", err)
	}
	return out, nil
}
