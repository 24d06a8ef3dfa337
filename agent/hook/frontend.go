package hook

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// frontendNames are the comm names of package-manager frontends, whose
// pid and start time make the session key. comm is cut to 15 bytes, hence
// "unattended-upgr". Long-lived daemons (packagekitd, aptd) are not among
// them: one session for the whole boot would join every later transaction
// to the first one's snapshot.
var frontendNames = map[string]bool{
	"apt": true, "apt-get": true, "aptitude": true, "unattended-upgr": true, "synaptic": true,
	"dnf": true, "dnf-3": true, "dnf5": true, "dnf-automatic": true, "microdnf": true,
	"yum": true, "yum-cron": true, "zypper": true, "pacman": true,
}

// unattendedNames are processes that run package managers with nobody
// watching; one anywhere among the hook's ancestors makes the run
// unattended.
var unattendedNames = map[string]bool{
	"unattended-upgr": true, "apt.systemd.dai": true, "aptd": true, "packagekitd": true,
	"dnf-automatic": true, "yum-cron": true,
}

// maxAncestors bounds the walk up the parent chain.
const maxAncestors = 64

// frontend is the package-manager process the hook runs for.
type frontend struct {
	stat      procStat
	found     bool     // the process was read from /proc
	argv      []string // its command line, when readable
	ancestors []procStat
}

// session is the coalescing key: the frontend's pid and start time, which
// together name one process for the life of the boot.
func (f frontend) session() string {
	if !f.found {
		return ""
	}
	return fmt.Sprintf("pm-%d-%d", f.stat.PID, f.stat.Start)
}

// unattended reports whether nobody watches this run, and why.
func (f frontend) unattended() (bool, string) {
	for _, a := range f.ancestors {
		if unattendedNames[a.Comm] {
			return true, "run by " + a.Comm
		}
	}
	if f.found && f.stat.TTY == 0 {
		return true, "no controlling terminal"
	}
	return false, ""
}

// findFrontend finds the package manager: the process pid names when the
// caller knows it (dnf5's ${pid}, the plugins' os.getpid()), otherwise the
// outermost ancestor of the hook process with a frontend's name, otherwise
// the hook's parent. Outermost, because a frontend may fork workers that
// keep its name (each dpkg run of unattended-upgrades would otherwise be a
// session of its own). Unreadable /proc leaves it not found.
func findFrontend(p procFS, pid int) frontend {
	var chain []procStat
	self, err := p.stat(procSelf)
	next := self.PPID
	if err != nil {
		next = 0
	}
	for i := 0; i < maxAncestors && next > 1; i++ {
		st, err := p.stat(strconv.Itoa(next))
		if err != nil {
			break
		}
		chain = append(chain, st)
		next = st.PPID
	}
	f := frontend{ancestors: chain}
	switch {
	case pid > 0:
		if st, err := p.stat(strconv.Itoa(pid)); err == nil {
			f.stat, f.found = st, true
		}
	default:
		for _, st := range chain {
			if frontendNames[st.Comm] {
				f.stat, f.found = st, true
			}
		}
		if !f.found && len(chain) > 0 {
			f.stat, f.found = chain[0], true
		}
	}
	if f.found {
		f.argv, _ = p.cmdline(f.stat.PID)
	}
	return f
}

// commandLine renders argv for people: the program's base name (a Python
// frontend's interpreter dropped) and its arguments, quoted where needed.
func commandLine(argv []string) string {
	if len(argv) > 1 && strings.HasPrefix(path.Base(argv[0]), "python") && !strings.HasPrefix(argv[1], "-") {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return ""
	}
	out := make([]string, len(argv))
	out[0] = path.Base(argv[0])
	for i, a := range argv[1:] {
		out[i+1] = shellQuote(a)
	}
	return strings.Join(out, " ")
}

// shellQuote quotes an argument that a shell would split or expand.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`|&;<>()*?[]{}!#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
