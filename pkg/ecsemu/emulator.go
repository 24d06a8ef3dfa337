package ecsemu

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu/dataplane"
)

// Options configure an Emulator.
type Options struct {
	// Clock is cloud time (default RealClock).
	Clock Clock
	// Logger receives the emulator's log (default: discarded).
	Logger *slog.Logger
	// Seed seeds the random source behind IDs and fault draws; 0 picks a
	// random seed (logged). Fault draws depend on the seed and on each
	// request's parameters, not on arrival order, so a fixed seed gives the
	// same faults even with concurrent callers.
	Seed int64
	// SigningClock is what request Timestamps (and nonce memory) are checked
	// against. Default: Clock, except for a *VirtualClock, where it is
	// RealClock: clients sign with their own wall clock while a test moves
	// cloud time by hours or days.
	SigningClock Clock
	// DataPlane, when set, gives the disks bytes (see dataplane.go).
	DataPlane *dataplane.Plane
}

// Emulator is the emulated metadata service and ECS API of one account,
// region and instance. Its handlers are safe for concurrent use.
type Emulator struct {
	sc        *Scenario // defaults applied; never modified after New
	clock     Clock
	signClock Clock
	log       *slog.Logger
	seed      int64
	dp        *dataplane.Plane

	mu           sync.Mutex
	rng          *mrand.Rand // IDs and tokens
	drawCounts   map[uint64]uint64
	seq          int64
	faults       Faults
	bucket       tokenBucket
	instance     *instanceState   // Scenario.Instance
	instances    []*instanceState // Instance, then Scenario.Instances
	instanceByID map[string]*instanceState
	disks        []*diskState // scenario order
	diskByID     map[string]*diskState
	snapshots    map[string]*snapshotState
	groups       map[string]*groupState
	restore      restoreState // disks created, attached, reset; instances stopped; images
	calls        []Call
	nonces       map[string]time.Time
	idem         map[string]*idemEntry
	sts          stsState
	mdTokens     map[string]mdToken
	holds        map[string]*Hold
	faultSubs    map[int]func(Faults)
	nextSub      int
}

// New builds an emulator for sc (nil means DefaultScenario()).
func New(sc *Scenario, opts Options) (*Emulator, error) {
	if sc == nil {
		sc = DefaultScenario()
	}
	sc = sc.Clone()
	sc.applyDefaults()
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	e := &Emulator{
		sc:        sc,
		clock:     opts.Clock,
		signClock: opts.SigningClock,
		log:       opts.Logger,
		seed:      opts.Seed,
		dp:        opts.DataPlane,
		diskByID:  map[string]*diskState{},
		snapshots: map[string]*snapshotState{},
		groups:    map[string]*groupState{},
		nonces:    map[string]time.Time{},
		idem:      map[string]*idemEntry{},
		mdTokens:  map[string]mdToken{},
		holds:     map[string]*Hold{},
		faultSubs: map[int]func(Faults){},
	}
	if e.clock == nil {
		e.clock = RealClock{}
	}
	if e.signClock == nil {
		e.signClock = e.clock
		if _, virtual := e.clock.(*VirtualClock); virtual {
			e.signClock = RealClock{}
		}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.seed == 0 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("seed emulator: %w", err)
		}
		e.seed = int64(binary.LittleEndian.Uint64(b[:]) >> 1)
	}
	e.rng = mrand.New(mrand.NewPCG(uint64(e.seed), 0x6563_7373_6e61_70)) // "ecssnap"
	e.log.Info("emulator ready", "region", sc.Region, "instance", sc.Instance.ID, "instances", 1+len(sc.Instances), "disks", len(sc.Disks), "seed", e.seed)
	e.faults = sc.Faults
	e.bucket.reset(e.faults.RPS)
	e.load(e.clock.Now())
	if err := e.addDataPlaneDisks(); err != nil {
		return nil, fmt.Errorf("data plane: %w", err)
	}
	return e, nil
}

// load builds the initial state from the scenario.
func (e *Emulator) load(now time.Time) {
	sc := e.sc
	// The instance and its disks have existed for a while; the exact age
	// only shows in CreationTime fields.
	born := now.Add(-30 * 24 * time.Hour).Truncate(time.Minute)
	e.instanceByID = map[string]*instanceState{}
	for i, in := range append([]Instance{sc.Instance}, sc.Instances...) {
		st := &instanceState{spec: in, status: in.Status, created: born, tags: map[string]string{}, seq: int64(i + 1)}
		e.instances = append(e.instances, st)
		e.instanceByID[in.ID] = st
	}
	e.instance = e.instances[0]
	letters := map[string]int{} // device letters by instance
	for _, d := range sc.Disks {
		ds := &diskState{spec: d, instance: cmp.Or(d.InstanceID, sc.Instance.ID), status: d.Status, tags: cloneMap(d.Tags), device: d.Device, seq: e.nextSeq(), created: born}
		if ds.device == "" && !d.MultiAttach && !d.Detached {
			ds.device = "/dev/xvd" + string(rune('a'+letters[ds.instance]%26))
			letters[ds.instance]++
		}
		if ds.tags == nil {
			ds.tags = map[string]string{}
		}
		e.disks = append(e.disks, ds)
		e.diskByID[d.ID] = ds
	}
	pre := slices.Clone(sc.Snapshots)
	created := func(s Snapshot) time.Time {
		switch {
		case !s.CreationTime.IsZero():
			return s.CreationTime.UTC()
		default:
			return now.Add(-s.Age.D())
		}
	}
	// Sequence numbers follow creation time so listings are newest first.
	sort.SliceStable(pre, func(i, j int) bool { return created(pre[i]).Before(created(pre[j])) })
	for _, s := range pre {
		d := e.diskByID[s.DiskID]
		ss := &snapshotState{
			id: s.ID, diskID: s.DiskID, name: s.Name, description: s.Description,
			tags: cloneMap(s.Tags), created: created(s), typ: s.Type, retentionDays: s.RetentionDays,
			createdDisk: s.CreatedDisk, createdImage: s.CreatedImage, seq: e.nextSeq(),
			sourceSizeGiB: d.spec.SizeGiB, sourceType: d.spec.Type, sourceCategory: d.spec.Category,
			instanceID: d.attachedTo(),
		}
		ss.modified = ss.created
		if ss.tags == nil {
			ss.tags = map[string]string{}
		}
		switch s.Status {
		case snapProgressing:
			ss.duration = e.snapshotDuration(d.spec.SizeGiB)
		case snapFailed:
			ss.failed = true
		}
		e.snapshots[s.ID] = ss
	}
}

// Scenario returns a copy of the effective scenario (defaults applied).
func (e *Emulator) Scenario() *Scenario { return e.sc.Clone() }

// Clock returns the emulator's clock.
func (e *Emulator) Clock() Clock { return e.clock }

// Seed returns the seed of the random source (the chosen one if Options.Seed was 0).
func (e *Emulator) Seed() int64 { return e.seed }

// Faults returns the faults in force.
func (e *Emulator) Faults() Faults {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.faults
	f.Actions = slices.Clone(f.Actions)
	return f
}

// SetFaults replaces the faults in force. It refuses invalid values.
func (e *Emulator) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("set faults: %w", err)
	}
	f.Actions = slices.Clone(f.Actions)
	e.mu.Lock()
	if f.RPS != e.faults.RPS {
		e.bucket.reset(f.RPS)
	}
	e.faults = f
	subs := make([]func(Faults), 0, len(e.faultSubs))
	for _, s := range e.faultSubs {
		subs = append(subs, s)
	}
	e.mu.Unlock()
	e.log.Info("faults changed", "faults", fmt.Sprintf("%+v", f))
	for _, s := range subs {
		s(f)
	}
	return nil
}

// onFaults registers fn to run (outside the lock) after every SetFaults.
// It returns a function that unregisters fn.
func (e *Emulator) onFaults(fn func(Faults)) func() {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.nextSub
	e.nextSub++
	e.faultSubs[id] = fn
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		delete(e.faultSubs, id)
	}
}

// SetInstanceStatus sets the instance status (Pending, Running, Starting,
// Stopping, Stopped).
func (e *Emulator) SetInstanceStatus(status string) error {
	if !slices.Contains(instanceStatuses, status) {
		return fmt.Errorf("instance status %q is not one of %v", status, instanceStatuses)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.instance.status = status
	return nil
}

// SetDiskStatus sets a disk's status (In_use, Available, Attaching,
// Detaching, Creating, ReIniting).
func (e *Emulator) SetDiskStatus(id, status string) error {
	if !slices.Contains(diskStatuses, status) {
		return fmt.Errorf("disk status %q is not one of %v", status, diskStatuses)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	d, ok := e.diskByID[id]
	if !ok {
		return fmt.Errorf("disk %q does not exist", id)
	}
	d.status = status
	return nil
}

// FailSnapshot marks a snapshot as failed (status "failed" from now on).
func (e *Emulator) FailSnapshot(id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.snapshots[id]
	if !ok {
		return fmt.Errorf("snapshot %q does not exist", id)
	}
	s.failed = true
	return nil
}

// Hold pauses API calls of one action after they pass authentication,
// fault injection and ClientToken reservation, and before they take
// effect: the way to make a call deterministically "still in flight".
type Hold struct {
	e        *Emulator
	action   string
	arrived  chan string
	released chan struct{}
	once     sync.Once
}

// HoldCalls starts holding calls of action until Release. Each held call
// sends its ClientToken (possibly empty) on Arrived.
func (e *Emulator) HoldCalls(action string) *Hold {
	h := &Hold{e: e, action: action, arrived: make(chan string, 1024), released: make(chan struct{})}
	e.mu.Lock()
	defer e.mu.Unlock()
	if old := e.holds[action]; old != nil {
		old.releaseLocked()
	}
	e.holds[action] = h
	return h
}

// Arrived receives the ClientToken of each call as it is held.
func (h *Hold) Arrived() <-chan string { return h.arrived }

// Release lets held calls proceed and stops holding new ones.
func (h *Hold) Release() {
	h.e.mu.Lock()
	defer h.e.mu.Unlock()
	h.releaseLocked()
}

func (h *Hold) releaseLocked() {
	if h.e.holds[h.action] == h {
		delete(h.e.holds, h.action)
	}
	h.once.Do(func() { close(h.released) })
}

// releaseHolds releases every hold.
func (e *Emulator) releaseHolds() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, h := range e.holds {
		h.releaseLocked()
	}
}
