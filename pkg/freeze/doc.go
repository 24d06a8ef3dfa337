// Package freeze freezes and thaws filesystems around a snapshot so that
// they are captured at a consistent point, and guarantees that whatever it
// froze is thawed again: the kernel has no freeze timeout, and a filesystem
// whose freezer dies stays frozen until someone thaws it.
//
// The guarantee rests on several independent layers:
//
//   - A helper process (this binary re-executed, see HelperEnv and RunHelper)
//     opens every mount point before the first FIFREEZE, freezes children
//     before parents and / last (one nesting level at a time, the members
//     of a level at once), thaws in reverse, and thaws by itself at its
//     deadline, when its parent dies (PR_SET_PDEATHSIG and the EOF of its
//     stdin) and on any catchable signal. It never writes a file, never
//     execs and talks only to pipes while anything is frozen.
//   - A guard process in its own session, which does not share the helper's
//     fate, thaws at the deadline plus a grace period, or at once when the
//     helper dies with filesystems frozen.
//   - A journal on tmpfs, written before the first FIFREEZE, which Recover
//     reads on every start of ecssnap and of the daemon.
//
// Classify decides what may be frozen at all; Freezer and Session are what
// the engine uses; package freezetest offers a fake for orchestration tests;
// SelfTest checks all of it on throwaway loop filesystems.
package freeze
