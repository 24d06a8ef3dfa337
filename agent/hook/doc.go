// Package hook is the binary's side of the package-manager hooks: what
// `ecssnap hook apt|dnf|dnf5|yum|zypper|pacman` does when a package manager
// is about to change the system.
//
// Each entry point reads what its package manager tells it (apt's
// Pre-Install-Pkgs protocol version 3 on stdin, the JSON our dnf and yum
// plugins write, dnf5's ${pid} argument, zypper's commit-plugin frames,
// pacman's NeedsTargets list), finds the package manager's frontend process
// (its pid and start time are the job's session key, so every dpkg run of
// one apt or unattended-upgrades invocation joins one job), and asks for a
// snapshot through the injected Submitter: the CLI's run-via-daemon-or-in-
// process function. The transaction goes on (exit 0) when the snapshots are
// created; when they are not, the policy decides: fail-closed stops the
// transaction (exit 1) with one line saying why and how to skip once,
// fail-open lets it go on with a loud warning. When neither the daemon nor
// the cloud can be reached the hook always fails open, and says so.
//
// ECSSNAP_SKIP=1 skips the snapshot; chroots and containers are detected
// and skipped unless the policy says otherwise. Nothing here prints except
// to the writers in Env; zypper's protocol is the only use of Stdout,
// since dnf5 reads an action's stdout as commands.
package hook
