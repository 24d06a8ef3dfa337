package freeze

import (
	"os"
	"os/signal"
	"syscall"
)

// Roles selected by the value of HelperEnv.
const (
	roleHelper = "helper"
	roleGuard  = "guard"
	// pipeFD is the descriptor of the helper-to-guard pipe in both processes
	// (ExtraFiles[0]).
	pipeFD = 3
)

// RunHelper runs this process as the freeze helper or the guard, as chosen
// by the HelperEnv variable, and returns the exit code. It reads its
// instructions from stdin and reports on stdout; see protocol.go.
func RunHelper() int {
	switch os.Getenv(HelperEnv) {
	case roleHelper:
		return runFreezeHelper(os.Stdin, os.Stdout, inheritedPipe(), hardenProcess(), kernelFS{})
	case roleGuard:
		return runGuard(os.Stdin, os.Stdout, inheritedPipe(), hardenProcess(), kernelFS{})
	default:
		return 2
	}
}

// catchable lists the signals whose default action would end or stop a
// helper. Each is routed to the main loop, which thaws before exiting;
// SIGKILL and SIGSTOP cannot be caught and are the guard's business. The
// list is explicit rather than "all signals" because the runtime's own
// SIGURG preemption signals could then fill the channel and crowd out the
// one that matters. Synchronous faults still panic; these are only the
// ones sent with kill(2).
var catchable = []os.Signal{
	syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGILL, syscall.SIGTRAP,
	syscall.SIGABRT, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGUSR1, syscall.SIGSEGV,
	syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGALRM, syscall.SIGTERM, syscall.SIGSTKFLT,
	syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGXCPU, syscall.SIGXFSZ,
	syscall.SIGVTALRM, syscall.SIGPROF, syscall.SIGIO, syscall.SIGPWR, syscall.SIGSYS,
}

// hardenProcess prepares a helper or guard for life next to frozen
// filesystems: no core dump (it would be written to a frozen disk), a
// working directory that pins no mount, and every catchable signal routed
// to the returned channel so that none ends the process without a thaw.
// Catching SIGPIPE also makes writes to a vanished reader fail with EPIPE
// instead of killing the process.
func hardenProcess() <-chan os.Signal {
	_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
	_ = syscall.Chdir("/")
	sigs := make(chan os.Signal, len(catchable))
	signal.Notify(sigs, catchable...)
	return sigs
}

// ignoredSignal reports signals that do not end a helper: SIGPIPE, whose
// cause (a reader gone) shows up as a write error where it matters, and
// those a caller's channel may carry besides the catchable ones.
func ignoredSignal(s os.Signal) bool {
	switch s {
	case syscall.SIGURG, syscall.SIGCHLD, syscall.SIGWINCH, syscall.SIGCONT, syscall.SIGPIPE:
		return true
	}
	return false
}

// inheritedPipe returns descriptor 3 as a pollable file if it is a pipe,
// nil otherwise. Non-blocking mode lets writes to it carry a deadline.
func inheritedPipe() *os.File {
	var st syscall.Stat_t
	if err := syscall.Fstat(pipeFD, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		return nil
	}
	if err := syscall.SetNonblock(pipeFD, true); err != nil {
		return nil
	}
	return os.NewFile(pipeFD, "freeze-guard-pipe")
}
