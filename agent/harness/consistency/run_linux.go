package consistency

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"golang.org/x/sys/unix"

	"github.com/ecssnap/ecssnap/agent/harness/childenv"
	"github.com/ecssnap/ecssnap/pkg/ecsemu"
	"github.com/ecssnap/ecssnap/pkg/ecsemu/dataplane"
	"github.com/ecssnap/ecssnap/pkg/job"
)

// Writer shape: files of recordsPerFile records, the newest keepFiles
// kept per writer.
const (
	recordsPerFile = 8
	keepFiles      = 32
	// afterCapture is how long the writers go on after the last create.
	afterCapture = 100 * time.Millisecond
	diskGiB      = 1
)

func run(ctx context.Context, opts *Options, stdout, stderr io.Writer) (*Report, error) {
	rep := &Report{Started: time.Now().UTC(), Kernel: kernelRelease()}
	rep.Options.Trials = opts.Trials
	for _, g := range opts.Gaps {
		rep.Options.GapsMS = append(rep.Options.GapsMS, g.Milliseconds())
	}
	rep.Options.RecordSize, rep.Options.Writers, rep.Options.Warmup = opts.RecordSize, opts.Writers, opts.Warmup.String()
	if _, err := os.Stat(opts.Ecssnap); err != nil {
		return nil, fmt.Errorf("the ecssnap binary: %w (run make build)", err)
	}
	for _, dev := range []string{"/dev/fuse", "/dev/loop-control"} {
		if _, err := os.Stat(dev); err != nil {
			return nil, fmt.Errorf("the data plane needs %s: %w", dev, err)
		}
	}
	scratch := opts.Scratch
	if scratch == "" {
		var err error
		if scratch, err = os.MkdirTemp("", "ecssnap-consistency-"); err != nil {
			return nil, err
		}
	}
	if !opts.Keep {
		defer os.RemoveAll(scratch)
	}
	logf := func(format string, a ...any) {
		if opts.Verbose {
			fmt.Fprintf(stderr, format+"\n", a...)
		}
	}
	for _, name := range opts.Workloads {
		if why := unavailable(name); why != "" {
			fmt.Fprintf(stderr, "ecssnap-consistency: %s skipped: %s\n", name, why)
			for _, c := range cellsFor(name, opts) {
				c.Skipped = why
				rep.Cells = append(rep.Cells, c)
			}
			continue
		}
		fmt.Fprintf(stderr, "ecssnap-consistency: %s: %d rows x %d trials\n", name, len(cellsFor(name, opts)), opts.Trials)
		cells, err := runWorkload(ctx, workloads[name], opts, filepath.Join(scratch, name), logf)
		rep.Cells = append(rep.Cells, cells...)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", name, err)
		}
	}
	return rep, nil
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// env is one workload's world: the data plane, two emulators over it (one
// whose disks can join a snapshot group, one whose cannot), the mounted
// filesystem, its writers and the configuration ecssnap runs with.
type env struct {
	wl      workload
	opts    *Options
	dir     string
	plane   *dataplane.Plane
	ids     []string
	devs    []string // the disks' devices
	fsDevs  []string // the filesystem's: devs, or the volume's device
	mnt     string
	writers []*writer
	group   *emuEnv // ESSD disks: CreateSnapshotGroup possible
	noGroup *emuEnv // cloud_efficiency disks: no group
	logf    func(string, ...any)
	trialNo int
}

type emuEnv struct {
	srv  *ecsemu.Server
	sc   *ecsemu.Scenario
	vars []string // ecssnap's environment
}

func runWorkload(ctx context.Context, wl workload, opts *Options, dir string, logf func(string, ...any)) (cells []Cell, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	e := &env{wl: wl, opts: opts, dir: dir, mnt: filepath.Join(dir, "mnt"), logf: logf}
	logFile, err := os.Create(filepath.Join(dir, "emulator.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	logger := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if e.plane, err = dataplane.New(dataplane.Options{Dir: filepath.Join(dir, "dp"), Logger: logger}); err != nil {
		return nil, err
	}
	defer func() {
		if cerr := e.plane.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := e.plane.Serve(); err != nil {
		return nil, err
	}
	for i := range wl.disks {
		e.ids = append(e.ids, fmt.Sprintf("d-cons%s%d", strings.ReplaceAll(wl.name, "-", ""), i))
	}
	for i, category := range []string{"cloud_essd", "cloud_efficiency"} {
		ee, err := e.startEmulator(category, int64(i+1), logger)
		if err != nil {
			return nil, err
		}
		defer ee.srv.Close()
		if i == 0 {
			e.group = ee
		} else {
			e.noGroup = ee
		}
	}
	serials := map[string]string{}
	for _, id := range e.ids {
		dev, err := e.plane.Attach(id)
		if err != nil {
			return nil, err
		}
		e.devs = append(e.devs, dev)
		serials[id] = strings.TrimPrefix(id, "d-")
	}
	e.fsDevs = e.devs
	if wl.volume != nil {
		dev, err := wl.volume.create(ctx, e.devs)
		if err != nil {
			return nil, err
		}
		defer func() {
			if verr := wl.volume.remove(ctx); verr != nil && err == nil {
				err = verr
			}
		}()
		e.fsDevs = []string{dev}
	}
	if _, err := command(ctx, wl.mkfs(e.fsDevs)[0], wl.mkfs(e.fsDevs)[1:]...); err != nil {
		return nil, err
	}
	if err := mountFS(wl, e.fsDevs, e.mnt, false); err != nil {
		return nil, err
	}
	defer func() {
		if uerr := unmountWait(e.mnt); uerr != nil && err == nil {
			err = uerr
		}
	}()
	// The view is built with the filesystem mounted: btrfs lists its
	// members only then. The plane keeps it current as clones are
	// attached and detached through the API.
	if err := e.plane.KeepGuestView(filepath.Join(dir, "guest"), serials); err != nil {
		return nil, err
	}
	for i := range opts.Writers {
		wdir := filepath.Join(e.mnt, fmt.Sprintf("w%d", i))
		if err := os.MkdirAll(wdir, 0o755); err != nil {
			return nil, err
		}
		w := newWriter(wdir, fmt.Sprintf("w%d", i), opts.RecordSize, recordsPerFile, keepFiles, uint64(i+1))
		w.seq = uint64(i) << 48 // sequence numbers unique across writers
		e.writers = append(e.writers, w)
	}
	for _, c := range cellsFor(wl.name, opts) {
		for range opts.Trials {
			if err := ctx.Err(); err != nil {
				return append(cells, c), err
			}
			tr, err := e.trial(ctx, c.Method, time.Duration(c.GapMS)*time.Millisecond)
			if err != nil {
				return append(cells, c), err
			}
			c.Trials = append(c.Trials, tr)
		}
		cells = append(cells, c)
	}
	return cells, nil
}

// startEmulator serves an emulated instance whose disks are the data
// plane's, of the given category, and writes ecssnap's configuration.
func (e *env) startEmulator(category string, seed int64, logger *slog.Logger) (*emuEnv, error) {
	sc := ecsemu.DefaultScenario()
	sc.Disks, sc.Snapshots = nil, nil
	for i, id := range e.ids {
		typ := "data"
		_ = i
		sc.Disks = append(sc.Disks, ecsemu.Disk{ID: id, Category: category, Type: typ, SizeGiB: diskGiB})
	}
	sc.Quota.ManualSnapshotsPerDisk = 65535
	// Copies are local and fast; a snapshot is done when its bytes are.
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 20, Minimum: ecsemu.Duration(10 * time.Millisecond)}
	step := ecsemu.Duration(restoreStep)
	sc.Restore = ecsemu.Restore{DiskCreate: step, DiskAttach: step, DiskDetach: step, DiskReset: step, InstanceStop: step, InstanceStart: step, ImageCreate: step}
	emu, err := ecsemu.New(sc, ecsemu.Options{DataPlane: e.plane, Seed: seed, Logger: logger.With("emulator", category)})
	if err != nil {
		return nil, err
	}
	srv, err := ecsemu.Listen(emu, ecsemu.ServerConfig{})
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.dir, "ecssnap-"+category)
	for _, d := range []string{dir, filepath.Join(dir, "hooks.d"), filepath.Join(dir, "state")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			srv.Close()
			return nil, err
		}
	}
	cfg := fmt.Sprintf("freeze: {deadline: 10s}\nquota_per_disk: 65535\nwait_timeout: 1m\n"+
		"retention: {default: {keep_last: 0, max_age: 0}, important: {keep_last: 0, max_age: 0}}\nhooks: {dir: %s}\n",
		filepath.Join(dir, "hooks.d"))
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		srv.Close()
		return nil, err
	}
	vars := map[string]string{
		"ECSSNAP_CONFIG":                  cfgPath,
		"ECSSNAP_ROOT":                    filepath.Join(e.dir, "guest"),
		"ECSSNAP_METADATA_ENDPOINT":       srv.IMDSURL,
		"ECSSNAP_API_ENDPOINT":            srv.APIURL,
		"ECSSNAP_SOCKET":                  filepath.Join(dir, "no-daemon.sock"),
		"ECSSNAP_STATE_DIR":               filepath.Join(dir, "state"),
		"ECSSNAP_FREEZE_JOURNAL":          filepath.Join(dir, "freeze.json"),
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     sc.AccessKeys[0].ID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": sc.AccessKeys[0].Secret,
	}
	return &emuEnv{srv: srv, sc: sc, vars: childenv.Clean(vars)}, nil
}

// trial runs the writers, captures with method, stops the writers and
// judges a clone of the capture.
func (e *env) trial(ctx context.Context, method string, gap time.Duration) (Trial, error) {
	e.trialNo++
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	werrs := make([]error, len(e.writers))
	for i, w := range e.writers {
		wg.Go(func() { werrs[i] = w.run(wctx) })
	}
	stopWriters := func() error {
		stop()
		wg.Wait()
		return errors.Join(werrs...)
	}
	select {
	case <-time.After(e.opts.Warmup):
	case <-ctx.Done():
	}
	t0 := time.Now()
	snaps, achieved, t1, capErr := e.capture(ctx, method, gap)
	time.Sleep(afterCapture)
	if err := stopWriters(); err != nil {
		return Trial{}, fmt.Errorf("writer: %w", err)
	}
	tr := Trial{GapMS: float64(t1.Sub(t0).Microseconds()) / 1000, Achieved: achieved, Snapshots: snaps}
	if capErr != nil {
		tr.Failure = capErr.Error()
		e.logf("%s / %s #%d: method failed: %v", e.wl.name, method, e.trialNo, capErr)
		return tr, nil
	}
	var expected []uint64
	for _, w := range e.writers {
		expected = append(expected, w.expected(t0, t1)...)
	}
	if err := e.judge(ctx, e.emulatorFor(method), snaps, expected, &tr); err != nil {
		return tr, err
	}
	e.logf("%s / %s (+%s) #%d: span %.1f ms, mounted %v, errors %v, expected %d lost %d torn %d files %d",
		e.wl.name, method, gap, e.trialNo, tr.GapMS, tr.Mounted, tr.Errors, tr.Expected, tr.Lost, tr.Torn, tr.Files)
	return tr, nil
}

// emulatorFor is the emulator whose disks method snapshots.
func (e *env) emulatorFor(method string) *emuEnv {
	if method == MethodFSNoGroup {
		return e.noGroup
	}
	return e.group
}

// capture snapshots the workload's disks by method and returns the
// snapshot IDs in disk order, the consistency ecssnap reports, and when
// the method's caller had its answer (the snapshots' IDs may be learned
// after that).
func (e *env) capture(ctx context.Context, method string, gap time.Duration) ([]string, string, time.Time, error) {
	var (
		snaps    []string
		achieved string
		err      error
		answered time.Time
	)
	switch method {
	case MethodPerDisk:
		snaps, achieved, err = e.perDisk(ctx, gap)
		answered = time.Now()
	case MethodCrashGroup:
		snaps, achieved, answered, err = e.ecssnap(ctx, e.group, "crash", true)
	case MethodFSGroup:
		snaps, achieved, answered, err = e.ecssnap(ctx, e.group, "fs", true)
	case MethodFSNoGroup:
		snaps, achieved, answered, err = e.ecssnap(ctx, e.noGroup, "fs", false)
	default:
		err = fmt.Errorf("unknown method %q", method)
	}
	if answered.IsZero() {
		answered = time.Now()
	}
	return snaps, achieved, answered, err
}

// perDisk is the documentation's procedure: CreateSnapshot for one disk
// after the other, no freeze; between two creates the API round trip and
// the configured gap.
func (e *env) perDisk(ctx context.Context, gap time.Duration) ([]string, string, error) {
	c, err := ecsClient(e.group)
	if err != nil {
		return nil, "", err
	}
	var ids []string
	for i, d := range e.ids {
		if i > 0 && gap > 0 {
			time.Sleep(gap)
		}
		req := ecs.CreateCreateSnapshotRequest()
		req.DiskId = d
		resp, err := c.CreateSnapshot(req)
		if err != nil {
			return nil, "", fmt.Errorf("CreateSnapshot %s: %w", d, err)
		}
		ids = append(ids, resp.SnapshotId)
	}
	return ids, "", nil
}

func ecsClient(ee *emuEnv) (*ecs.Client, error) {
	cfg := sdk.NewConfig()
	cfg.Scheme = "HTTP"
	c, err := ecs.NewClientWithOptions(ee.sc.Region, cfg, credentials.NewAccessKeyCredential(ee.sc.AccessKeys[0].ID, ee.sc.AccessKeys[0].Secret))
	if err != nil {
		return nil, err
	}
	host := strings.TrimPrefix(ee.srv.APIURL, "http://")
	c.Domain = host
	c.SetNoProxy("^" + regexp.QuoteMeta(host) + "$")
	return c, nil
}

// ecssnap runs `ecssnap now` as a user would, against the emulator, with
// the guest view as its root; wantGroup says whether the plan must (or
// must not) have used a snapshot group for a closure of several disks.
// It returns the snapshot IDs in disk order, the consistency reached and
// when `now` answered.
func (e *env) ecssnap(ctx context.Context, ee *emuEnv, level string, wantGroup bool) ([]string, string, time.Time, error) {
	cmd := exec.CommandContext(ctx, e.opts.Ecssnap, "now", "--consistency", level, "--require", level,
		"--no-wait", "--json", "--reason", "consistency experiment", "--trigger", "consistency")
	cmd.Env = ee.vars
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	answered := time.Now()
	var res job.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return nil, "", answered, fmt.Errorf("ecssnap now: %v; %s", runErr, lastLine(errb.String()))
	}
	if runErr != nil {
		return nil, res.Consistency, answered, fmt.Errorf("ecssnap now: %v: %s %s", runErr, res.Error, lastLine(errb.String()))
	}
	// One disk needs no group: the plan takes a plain snapshot of it.
	if len(e.ids) > 1 && (res.GroupID != "") != wantGroup {
		return nil, res.Consistency, answered, fmt.Errorf("ecssnap now: group %q, but this method needs group=%v", res.GroupID, wantGroup)
	}
	if res.GroupID != "" {
		// The answer comes once the group is created; its members are
		// named a round trip later, when the job ends.
		if err := e.ended(ctx, ee, &res); err != nil {
			return nil, res.Consistency, answered, err
		}
	}
	byDisk := map[string]string{}
	for _, s := range res.Snapshots {
		byDisk[s.DiskID] = s.SnapshotID
	}
	var ids []string
	for _, d := range e.ids {
		if byDisk[d] == "" {
			return nil, res.Consistency, answered, fmt.Errorf("ecssnap now: no snapshot of disk %s", d)
		}
		ids = append(ids, byDisk[d])
	}
	return ids, res.Consistency, answered, nil
}

// ended replaces res by the job as it ended (`ecssnap show --wait`).
func (e *env) ended(ctx context.Context, ee *emuEnv, res *job.Result) error {
	cmd := exec.CommandContext(ctx, e.opts.Ecssnap, "show", "--wait", "--timeout", "1m", "--json", res.JobID)
	cmd.Env = ee.vars
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ecssnap show --wait %s: %v: %s", res.JobID, err, lastLine(errb.String()))
	}
	var v struct {
		Result *job.Result `json:"result"`
	}
	if err := json.Unmarshal(out.Bytes(), &v); err != nil || v.Result == nil {
		return fmt.Errorf("ecssnap show --wait %s: no result in %q (%v)", res.JobID, out.String(), err)
	}
	*res = *v.Result
	return nil
}

// judge clones the snapshots into new disks through ee's API (see
// cloneDisks) and checks the clone. The originals are unmounted meanwhile
// (and forgotten by btrfs), because a clone shares their filesystem IDs;
// they are mounted again after.
func (e *env) judge(ctx context.Context, ee *emuEnv, snaps []string, expected []uint64, tr *Trial) (err error) {
	tr.Expected = len(expected)
	if err := unmountWait(e.mnt); err != nil {
		return err
	}
	if e.wl.fstype == "btrfs" {
		if err := forgetBtrfs(ctx, e.devs); err != nil {
			return err
		}
	}
	var clones []clone
	defer func() {
		var errs []error
		if e.wl.fstype == "btrfs" {
			for _, cl := range clones {
				if cl.dev != "" {
					errs = append(errs, forgetBtrfs(ctx, []string{cl.dev}))
				}
			}
		}
		errs = append(errs, e.removeClones(ctx, ee, clones, snaps))
		errs = append(errs, mountFS(e.wl, e.fsDevs, e.mnt, false))
		// btrfs lists its members in the view only while mounted.
		errs = append(errs, e.plane.RefreshGuestView())
		if cerr := errors.Join(errs...); cerr != nil && err == nil {
			err = cerr
		}
	}()
	clones, err = e.cloneDisks(ctx, ee, snaps)
	if err != nil {
		return err
	}
	var cloneDevs []string
	for _, cl := range clones {
		cloneDevs = append(cloneDevs, cl.dev)
	}
	if v := e.wl.volume; v != nil {
		dev, aerr := v.assembleClone(ctx, cloneDevs)
		if aerr != nil {
			// A clone whose volume does not assemble is a damaged clone.
			tr.Errors = append(tr.Errors, aerr.Error())
			_ = v.removeClone(ctx)
			return nil
		}
		defer func() {
			if verr := v.removeClone(ctx); verr != nil && err == nil {
				err = verr
			}
		}()
		cloneDevs = []string{dev}
	}
	cmnt := filepath.Join(e.dir, "clone")
	if err := mountFS(e.wl, cloneDevs, cmnt, true); err != nil {
		tr.Errors = append(tr.Errors, err.Error())
		return nil
	}
	tr.Mounted = true
	found := e.readAll(cmnt, tr)
	if e.wl.fstype == "btrfs" {
		out, err := command(ctx, "btrfs", "scrub", "start", "-B", "-r", cmnt)
		if err != nil || !strings.Contains(out, "no errors found") {
			tr.Errors = append(tr.Errors, "btrfs scrub: "+scrubSummary(out, err))
		}
	}
	if err := unmountWait(cmnt); err != nil {
		return err
	}
	// After the mount replayed the log, a clean filesystem checks clean.
	switch e.wl.fstype {
	case "ext4":
		if _, err := command(ctx, "e2fsck", "-fn", cloneDevs[0]); err != nil {
			tr.Errors = append(tr.Errors, "e2fsck -fn: "+err.Error())
		}
	case "xfs":
		if _, err := command(ctx, "xfs_repair", "-n", cloneDevs[0]); err != nil {
			tr.Errors = append(tr.Errors, "xfs_repair -n: "+err.Error())
		}
	}
	for _, seq := range expected {
		if !found[seq] {
			tr.Lost++
		}
	}
	return nil
}

// readAll reads every file of the clone, noting those that cannot be read
// and collecting the intact records.
func (e *env) readAll(root string, tr *Trial) map[uint64]bool {
	found := map[uint64]bool{}
	unreadable := 0
	var first string
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			unreadable++
			if first == "" {
				first = err.Error()
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		tr.Files++
		b, err := os.ReadFile(path)
		if err != nil {
			unreadable++
			if first == "" {
				first = err.Error()
			}
			return nil
		}
		if strings.HasSuffix(path, ".rec") {
			r := scanRecords(b)
			tr.Torn += r.Torn
			for _, s := range r.Intact {
				found[s] = true
			}
		}
		return nil
	})
	if unreadable > 0 {
		tr.Errors = append(tr.Errors, fmt.Sprintf("%d files unreadable (first: %s)", unreadable, first))
	}
	return found
}

// scrubSummary is the error lines of a btrfs scrub report.
func scrubSummary(out string, err error) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "Error summary") || strings.Contains(l, "uncorrectable") {
			return strings.TrimSpace(l)
		}
	}
	if err != nil {
		return err.Error()
	}
	return lastLine(out)
}
