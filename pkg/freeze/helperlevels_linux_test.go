package freeze

import (
	"cmp"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ecssnap/ecssnap/pkg/freeze/ioctl"
)

// meetLimit bounds how long a fake ioctl waits for its level's other
// members: long enough for a loaded machine, short enough that a serial
// freezer fails the test rather than hanging it.
const meetLimit = 5 * time.Second

// checkLevelOrder checks a helper's op log against the levels: no FIFREEZE
// began before every FIFREEZE of a lower level had returned, no FITHAW
// before every FITHAW of a higher level had, and the log is in the order
// the ops were issued.
func checkLevelOrder(t *testing.T, ops []wireOp, level func(i int) int) {
	t.Helper()
	if !slices.IsSortedFunc(ops, func(a, b wireOp) int { return cmp.Compare(a.StartNS, b.StartNS) }) {
		t.Errorf("ops not in the order issued: %+v", ops)
	}
	for x, a := range ops {
		for _, b := range ops[x+1:] {
			if a.Kind != b.Kind || level(a.I) == level(b.I) {
				continue
			}
			// Freezes go up the levels, thaws come down.
			first, then := a, b
			if (a.Kind == opFreeze) != (level(a.I) < level(b.I)) {
				first, then = b, a
			}
			if then.StartNS < first.EndNS {
				t.Errorf("%s of mount %d (level %d) began before the %s of mount %d (level %d) ended",
					then.Kind, then.I, level(then.I), first.Kind, first.I, level(first.I))
			}
		}
	}
}

// seenBefore fails unless the fake filesystem saw op x before op y.
func seenBefore(t *testing.T, seen []string, x, y string) {
	t.Helper()
	ix, iy := slices.Index(seen, x), slices.Index(seen, y)
	if ix < 0 || iy < 0 || ix > iy {
		t.Errorf("want %q before %q; the filesystem saw %v", x, y, seen)
	}
}

// TestHelperLevelOrder: three levels (a/b/c with the independent d, then
// a/b, then a): each level is frozen only after the one below and thawed
// only after the one above, every thaw after every freeze.
func TestHelperLevelOrder(t *testing.T) {
	fs, ms, dev := newFakeTree(t, "a", "a/b", "a/b/c", "d")
	h := startHelperLoop(t, fs)
	frozen := h.openAndFreeze(t, ms, 10*time.Second, true)
	for _, r := range frozen.Mounts {
		if r.Status != wsFrozen {
			t.Errorf("mount %d: %+v", r.I, r)
		}
	}
	fs.mu.Lock()
	if fs.width != 2 {
		t.Errorf("the helper readied %d concurrent ioctls, want 2 (a/b/c and d)", fs.width)
	}
	fs.mu.Unlock()
	expectEvent(t, h.guard, evArm)
	h.send(t, command{Op: opThaw})
	thawed := expectEvent(t, h.events, evThawed)
	if thawed.Reason != "request" || thawed.HeldNS <= 0 {
		t.Errorf("thawed %+v", thawed)
	}
	if len(thawed.Ops) != 2*len(ms) {
		t.Fatalf("ops %+v, want a freeze and a thaw of each mount", thawed.Ops)
	}
	checkLevelOrder(t, thawed.Ops, func(i int) int { return ms[i].Level })
	var lastFreezeEnd int64
	for _, op := range thawed.Ops {
		if op.Kind == opFreeze {
			lastFreezeEnd = max(lastFreezeEnd, op.EndNS)
		} else if op.StartNS < lastFreezeEnd {
			t.Errorf("thaw of mount %d began before the last freeze ended", op.I)
		}
	}
	// The filesystem's own record says the same: children before parents
	// on the way up, parents before children on the way down.
	seen := fs.ops()
	for _, pair := range [][2]string{{"a/b/c", "a/b"}, {"d", "a/b"}, {"a/b", "a"}} {
		child, parent := dev[pair[0]], dev[pair[1]]
		seenBefore(t, seen, fmt.Sprint("freeze ", child), fmt.Sprint("freeze ", parent))
		seenBefore(t, seen, fmt.Sprint("thaw ", parent), fmt.Sprint("thaw ", child))
	}
	expectEvent(t, h.guard, evDone)
	if code := waitCode(t, h.code); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// TestHelperLevelRunsAtOnce: the FIFREEZEs of two independent mounts run
// at the same time, and so do their FITHAWs. Each fake ioctl waits until
// the other has begun (bounded by meetLimit), which only a concurrent
// helper satisfies.
func TestHelperLevelRunsAtOnce(t *testing.T) {
	fs, ms := newFakeFS(t, 2)
	// A serial thaw starts the next FITHAW after thawStep even when the
	// first has not returned, so the thaws must give up before that.
	freezes, thaws := newRendezvous(2, meetLimit), newRendezvous(2, thawStep/2)
	fs.meetAt(freezes, thaws)
	h := startHelperLoop(t, fs)
	h.openAndFreeze(t, ms, 30*time.Second, true)
	if n := freezes.misses(); n > 0 {
		t.Errorf("%d FIFREEZE waited alone for %v: the level was frozen one mount at a time", n, meetLimit)
	}
	h.send(t, command{Op: opThaw})
	thawed := expectEvent(t, h.events, evThawed)
	if n := thaws.misses(); n > 0 {
		t.Errorf("%d FITHAW waited alone for %v: the level was thawed one mount at a time", n, thawStep/2)
	}
	for _, kind := range []string{opFreeze, opThaw} {
		var span []wireOp
		for _, op := range thawed.Ops {
			if op.Kind == kind {
				span = append(span, op)
			}
		}
		if len(span) != 2 || span[0].StartNS >= span[1].EndNS || span[1].StartNS >= span[0].EndNS {
			t.Errorf("%s ops do not overlap in time: %+v", kind, span)
		}
	}
	if fs.anyFrozen() {
		t.Errorf("left frozen: %v", fs.ops())
	}
}

// TestHelperDeadlineHungInLevel: one member of a two-member level hangs in
// FIFREEZE. The deadline still fires, the other member is thawed at once,
// the next level (the parent) is never frozen, and the hung one is thawed
// as soon as its freeze returns.
func TestHelperDeadlineHungInLevel(t *testing.T) {
	fs, ms, dev := newFakeTree(t, "p", "p/x", "y")
	release := fs.hangOn(dev["y"])
	t.Cleanup(release)
	h := startHelperLoop(t, fs)
	const deadline = 300 * time.Millisecond
	started := time.Now()
	h.openAndFreeze(t, ms, deadline, false)

	x := fmt.Sprint(dev["p/x"])
	eventually(t, settleLimit, "the hung one's level mate thawed at the deadline", func() bool {
		_, ok := fs.opAt("thaw", dev["p/x"])
		return ok
	})
	at, _ := fs.opAt("thaw", dev["p/x"])
	if late := at.Sub(started); late < deadline || late > deadline+time.Second {
		t.Errorf("thawed %v after the freeze began, deadline %v", late, deadline)
	}
	if _, ok := fs.opAt("freeze", dev["y"]); ok {
		t.Fatal("the hung freeze returned by itself")
	}
	release() // the writers drained: FIFREEZE returns, too late
	thawed := expectEvent(t, h.events, evThawed)
	if thawed.Reason != "deadline" {
		t.Errorf("reason %q", thawed.Reason)
	}
	if fs.anyFrozen() {
		t.Errorf("left frozen: %v", fs.ops())
	}
	y := fmt.Sprint(dev["y"])
	if got := fs.ops(); !slices.Equal(got, []string{"freeze " + x, "thaw " + x, "freeze " + y, "thaw " + y}) {
		t.Errorf("filesystem saw %v", got)
	}
	for _, r := range thawed.Mounts {
		switch ms[r.I].Path {
		case ms[len(ms)-1].Path: // p, the last level
			if r.Status != wsSkipped {
				t.Errorf("parent: %+v, want skipped", r)
			}
		default:
			if r.Status != wsFrozen || !r.Thawed {
				t.Errorf("%s: %+v, want frozen and thawed", ms[r.I].Path, r)
			}
		}
	}
	checkLevelOrder(t, thawed.Ops, func(i int) int { return ms[i].Level })
	expectEvent(t, h.guard, evArm)
	expectEvent(t, h.guard, evDone)
	if code := waitCode(t, h.code); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// TestHelperDeadlineTwoHung: two members of a level hang in FIFREEZE past
// the deadline. Each is thawed as soon as its own freeze returns, not when
// the last one does (which may be never, or inflightWait later).
func TestHelperDeadlineTwoHung(t *testing.T) {
	fs, ms, dev := newFakeTree(t, "a", "b", "c")
	releaseB, releaseC := fs.hangOn(dev["b"]), fs.hangOn(dev["c"])
	t.Cleanup(releaseB)
	t.Cleanup(releaseC)
	h := startHelperLoop(t, fs)
	h.openAndFreeze(t, ms, 200*time.Millisecond, false)
	eventually(t, settleLimit, "a thawed at the deadline", func() bool {
		_, ok := fs.opAt("thaw", dev["a"])
		return ok
	})
	releaseB()
	eventually(t, inflightWait/2, "b thawed once its freeze returned, c still hung", func() bool {
		_, ok := fs.opAt("thaw", dev["b"])
		return ok
	})
	releaseC()
	if e := expectEvent(t, h.events, evThawed); e.Reason != "deadline" {
		t.Errorf("reason %q", e.Reason)
	}
	if fs.anyFrozen() {
		t.Errorf("left frozen: %v", fs.ops())
	}
	expectEvent(t, h.guard, evArm)
	expectEvent(t, h.guard, evDone)
	if code := waitCode(t, h.code); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// TestHelperFailedLevel: a real error in a level stops the freeze there
// (the parent is not attempted) while its level mates stay frozen until the
// thaw; EOPNOTSUPP is an outcome, not a failure, and the freeze goes on.
func TestHelperFailedLevel(t *testing.T) {
	for _, tc := range []struct {
		name         string
		err          error
		child        string // wire status of the failing p/x
		parentFrozen bool
	}{
		{"EIO", fmt.Errorf("FIFREEZE: %w", syscall.EIO), wsError, false},
		{"EOPNOTSUPP", fmt.Errorf("FIFREEZE: %w: %w", ioctl.ErrNotSupported, syscall.EOPNOTSUPP), wsUnsupported, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, ms, dev := newFakeTree(t, "p", "p/x", "y")
			fs.failOn(dev["p/x"], tc.err)
			h := startHelperLoop(t, fs)
			frozen := h.openAndFreeze(t, ms, 10*time.Second, true)
			want := map[string]string{"p/x": tc.child, "y": wsFrozen, "p": wsSkipped}
			if tc.parentFrozen {
				want["p"] = wsFrozen
			}
			for _, r := range frozen.Mounts {
				for name, d := range dev {
					if fs.dirs[ms[r.I].Path] == d && r.Status != want[name] {
						t.Errorf("%s: %+v, want %s", name, r, want[name])
					}
				}
			}
			expectEvent(t, h.guard, evArm)
			h.send(t, command{Op: opThaw})
			thawed := expectEvent(t, h.events, evThawed)
			checkLevelOrder(t, thawed.Ops, func(i int) int { return ms[i].Level })
			y, p := fmt.Sprint(dev["y"]), fmt.Sprint(dev["p"])
			wantOps := []string{"freeze " + y, "thaw " + y}
			if tc.parentFrozen {
				wantOps = []string{"freeze " + y, "freeze " + p, "thaw " + p, "thaw " + y}
			}
			if got := fs.ops(); !slices.Equal(got, wantOps) {
				t.Errorf("filesystem saw %v, want %v", got, wantOps)
			}
			expectEvent(t, h.guard, evDone)
			if code := waitCode(t, h.code); code != 0 {
				t.Errorf("exit code %d", code)
			}
		})
	}
}

// checkOps verifies a session's own record of a freeze of targets that
// were all frozen: one freeze and one thaw of each, in the order issued;
// the levels Classify made them into (and, whatever Classify says, every
// mount point nested in another) frozen from the leaves up and thawed from
// the top down; each thaw after every freeze; Held covering all of it.
func checkOps(t *testing.T, rep Report, targets []Target) {
	t.Helper()
	frozen, levels, _ := classifyLevels(targets)
	level := map[string]int{}
	for i, tg := range frozen {
		level[tg.MountPoint] = levels[i]
	}
	if !slices.IsSortedFunc(rep.Ops, func(a, b Op) int { return cmp.Compare(a.Start, b.Start) }) {
		t.Errorf("ops not in the order issued: %+v", rep.Ops)
	}
	count := map[string]int{}
	var lastFreezeEnd time.Duration
	for _, op := range rep.Ops {
		count[op.Kind+" "+op.MountPoint]++
		if op.Kind == opFreeze {
			lastFreezeEnd = max(lastFreezeEnd, op.End)
		}
	}
	for _, tg := range frozen {
		if count[opFreeze+" "+tg.MountPoint] != 1 || count[opThaw+" "+tg.MountPoint] != 1 {
			t.Errorf("%s: want one freeze and one thaw, ops %+v", tg.MountPoint, rep.Ops)
		}
	}
	for x, a := range rep.Ops {
		if a.Kind == opThaw && a.Start < lastFreezeEnd {
			t.Errorf("thaw of %s began before the last freeze ended", a.MountPoint)
		}
		for _, b := range rep.Ops[x+1:] {
			if a.Kind != b.Kind {
				continue
			}
			// up: a goes before b on the way up (freeze), after it on the
			// way down (thaw). Nesting decides before the levels do.
			var up bool
			switch la, lb := level[a.MountPoint], level[b.MountPoint]; {
			case isBelow(a.MountPoint, b.MountPoint):
				up = true
			case isBelow(b.MountPoint, a.MountPoint):
				up = false
			case la != lb:
				up = la < lb
			default:
				continue // same level: free to overlap
			}
			first, then := a, b
			if (a.Kind == opFreeze) != up {
				first, then = b, a
			}
			if then.Start < first.End {
				t.Errorf("%s of %s (level %d) began before the %s of %s (level %d) ended",
					then.Kind, then.MountPoint, level[then.MountPoint], first.Kind, first.MountPoint, level[first.MountPoint])
			}
		}
	}
	if len(rep.Ops) > 0 && lastOpEnd(rep.Ops) > rep.Held {
		t.Errorf("held %v shorter than the ops span %v", rep.Held, lastOpEnd(rep.Ops))
	}
}

func lastOpEnd(ops []Op) time.Duration {
	var end time.Duration
	for _, op := range ops {
		end = max(end, op.End)
	}
	return end
}
