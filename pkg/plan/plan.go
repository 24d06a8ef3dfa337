// Package plan decides how one job snapshots the selected disks: which disks
// go into one snapshot-consistent group, which get per-disk snapshots, which
// are left out and why. It knows the API's group rules but makes no calls.
package plan

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/freeze"
)

// Limits bound one snapshot group. Most regions allow 16 disks and 32 TiB;
// some allow 128 disks and 256 TiB, so the values are configurable.
type Limits struct {
	MaxDisks int `json:"max_disks" yaml:"max_disks"`
	MaxGiB   int `json:"max_gib" yaml:"max_gib"`
}

// DefaultLimits are the group limits of most regions.
var DefaultLimits = Limits{MaxDisks: 16, MaxGiB: 32 * 1024}

// groupCategories are the ESSD-family categories a snapshot group accepts.
var groupCategories = map[string]bool{
	"cloud_essd":       true,
	"cloud_auto":       true, // ESSD AutoPL
	"cloud_essd_entry": true,
}

// ESSDFamily reports whether category is of the ESSD family: such a disk
// can join a snapshot group and take up to 10 snapshots at once.
func ESSDFamily(category string) bool { return groupCategories[category] }

// Input is what the planner decides from.
type Input struct {
	InstanceID string
	ZoneID     string
	Disks      []cloud.Disk // every disk attached to the instance
	Selection  Selection
	Mounts     []string // --mount paths: select the disks under these filesystems
	Limits     Limits
	// Local is the guest's disk layout; nil when it could not be read, in
	// which case filesystems spanning disks cannot be recognised.
	Local *Local
	// Freeze says the job freezes the filesystems on the selected disks
	// around the creates, so per-disk snapshots are taken at one point in
	// time too.
	Freeze bool
	// AllowInconsistent accepts a multi-disk filesystem that can be
	// neither grouped nor frozen; the risk is recorded.
	AllowInconsistent bool
}

// Method names how a disk is snapshotted.
type Method string

const (
	MethodGroup   Method = "group"
	MethodPerDisk Method = "per-disk"
)

// Plan is the decision for one job.
type Plan struct {
	InstanceID string     `json:"instance_id"`
	Group      []string   `json:"group,omitempty"` // disks in the one snapshot group
	PerDisk    []string   `json:"per_disk,omitempty"`
	Excluded   []Excluded `json:"excluded,omitempty"`
	Closures   []Closure  `json:"closures,omitempty"` // multi-disk closures only
	// FreezeSet lists the filesystems to freeze, children before parents.
	FreezeSet     []freeze.Target  `json:"freeze_set,omitempty"`
	FreezeSkipped []freeze.Skipped `json:"freeze_skipped,omitempty"`
	Inconsistent  bool             `json:"inconsistent,omitempty"` // accepted with --allow-inconsistent
	LocalKnown    bool             `json:"local_known"`
	// Unmapped lists selected disks with no local device: their
	// filesystems cannot be frozen.
	Unmapped []string              `json:"unmapped,omitempty"`
	Reasons  []string              `json:"reasons"` // why, in words, one line each
	Disks    map[string]cloud.Disk `json:"-"`
	Devices  map[string]string     `json:"devices,omitempty"` // disk ID -> local device
}

// Excluded is a disk left out of the job, with the reason.
type Excluded struct {
	DiskID string `json:"disk_id"`
	Reason string `json:"reason"`
}

// Selected returns every disk the plan snapshots, group members first.
func (p *Plan) Selected() []string {
	return append(append([]string(nil), p.Group...), p.PerDisk...)
}

// Method returns how the disk is snapshotted, or "" when it is not.
func (p *Plan) Method(diskID string) Method {
	switch {
	case slices.Contains(p.Group, diskID):
		return MethodGroup
	case slices.Contains(p.PerDisk, diskID):
		return MethodPerDisk
	}
	return ""
}

// Build makes the plan. Every selected disk that can join a group does (one
// CreateSnapshotGroup, one point in time); the rest get per-disk snapshots;
// a group of one becomes a per-disk snapshot (which, unlike a group, can
// carry RetentionDays). A filesystem that spans several disks is never
// split: selecting one of its disks selects all, its disks join the group
// together or not at all, and if they cannot all be grouped the filesystem
// must be frozen across the creates, or the plan is refused.
func Build(in Input) (*Plan, error) {
	if in.Limits.MaxDisks <= 0 {
		in.Limits.MaxDisks = DefaultLimits.MaxDisks
	}
	if in.Limits.MaxGiB <= 0 {
		in.Limits.MaxGiB = DefaultLimits.MaxGiB
	}
	p := &Plan{InstanceID: in.InstanceID, Disks: map[string]cloud.Disk{}, LocalKnown: in.Local != nil}
	local := in.Local
	if local == nil {
		local = &Local{}
	}
	p.Devices = local.Devices
	selected, err := in.selectDisks(local, p)
	if err != nil {
		return nil, err
	}
	closures := closuresOf(local, selected)

	var candidates [][]cloud.Disk // group-eligible disks, one slice per closure
	for _, cl := range closures {
		var eligible []cloud.Disk
		for _, d := range cl {
			p.Disks[d.ID] = d
			if reason := snapshotBlocker(d); reason != "" {
				p.Excluded = append(p.Excluded, Excluded{DiskID: d.ID, Reason: reason})
				continue
			}
			if reason := groupBlocker(d, in.ZoneID); reason != "" {
				p.PerDisk = append(p.PerDisk, d.ID)
				p.Reasons = append(p.Reasons, fmt.Sprintf("%s: per-disk snapshot (%s)", d.ID, reason))
				continue
			}
			eligible = append(eligible, d)
		}
		if len(eligible) > 0 {
			candidates = append(candidates, eligible)
		}
	}
	p.placeCandidates(candidates, in.Limits)
	if err := p.checkClosures(in, local, closures); err != nil {
		return nil, err
	}
	if in.Local != nil {
		for _, id := range p.Selected() {
			if _, ok := local.Devices[id]; !ok {
				p.Unmapped = append(p.Unmapped, id)
				p.Reasons = append(p.Reasons, fmt.Sprintf("%s: no local device found for it, so its filesystems are unknown and not frozen", id))
			}
		}
	}
	if in.Freeze {
		p.FreezeSet, p.FreezeSkipped = freeze.Classify(freezeTargets(local.filesystemsOn(p.Selected())))
	}
	if len(p.Group)+len(p.PerDisk) == 0 {
		return p, &NothingToDoError{Excluded: p.Excluded}
	}
	return p, nil
}

// selectDisks applies --disks and --mount, then pulls in the rest of every
// multi-disk filesystem's disks, saying so.
func (in Input) selectDisks(local *Local, p *Plan) ([]cloud.Disk, error) {
	selected, err := in.Selection.apply(in.Disks)
	if err != nil {
		return nil, err
	}
	if len(in.Mounts) > 0 {
		ids, err := local.mountSelection(in.Mounts)
		if err != nil {
			return nil, err
		}
		if in.Selection.Kind == "" || in.Selection.Kind == "all" {
			selected = nil // --mount alone narrows the default "all"
		}
		byID := diskIndex(in.Disks)
		for _, id := range ids {
			if d, ok := byID[id]; ok && !containsDisk(selected, id) {
				selected = append(selected, d)
			}
		}
	}
	byID := diskIndex(in.Disks)
	for _, cl := range local.closures() {
		touched := false
		for _, id := range cl {
			touched = touched || containsDisk(selected, id)
		}
		if !touched {
			continue
		}
		for _, id := range cl {
			d, ok := byID[id]
			if !ok || containsDisk(selected, id) {
				continue
			}
			selected = append(selected, d)
			p.Reasons = append(p.Reasons, fmt.Sprintf("%s: added, because a filesystem spans it and %s",
				id, strings.Join(without(cl, id), ", ")))
		}
	}
	sort.SliceStable(selected, func(i, j int) bool { return lessDisk(selected[i], selected[j]) })
	return selected, nil
}

// closuresOf partitions the selected disks into closures, each ordered
// system disk first; disks on no shared filesystem are closures of one.
func closuresOf(local *Local, selected []cloud.Disk) [][]cloud.Disk {
	byID := diskIndex(selected)
	placed := map[string]bool{}
	var out [][]cloud.Disk
	for _, cl := range local.closures() {
		var group []cloud.Disk
		for _, id := range cl {
			if d, ok := byID[id]; ok && !placed[id] {
				group = append(group, d)
				placed[id] = true
			}
		}
		if len(group) > 0 {
			out = append(out, group)
		}
	}
	for _, d := range selected {
		if !placed[d.ID] {
			out = append(out, []cloud.Disk{d})
		}
	}
	for _, cl := range out {
		sort.SliceStable(cl, func(i, j int) bool { return lessDisk(cl[i], cl[j]) })
	}
	sort.SliceStable(out, func(i, j int) bool { return lessDisk(out[i][0], out[j][0]) })
	return out
}

// placeCandidates puts group-eligible disks into one group, within limits,
// a closure at a time so that no closure is split between the group and
// per-disk snapshots.
func (p *Plan) placeCandidates(candidates [][]cloud.Disk, lim Limits) {
	var sizeGiB int
	for _, cl := range candidates {
		size := 0
		for _, d := range cl {
			size += d.SizeGiB
		}
		var why string
		switch {
		case len(p.Group)+len(cl) > lim.MaxDisks:
			why = fmt.Sprintf("the group would hold more than %d disks, the limit", lim.MaxDisks)
		case sizeGiB+size > lim.MaxGiB:
			why = fmt.Sprintf("the group would exceed %d GiB", lim.MaxGiB)
		}
		for _, d := range cl {
			if why != "" {
				p.PerDisk = append(p.PerDisk, d.ID)
				p.Reasons = append(p.Reasons, fmt.Sprintf("%s: per-disk snapshot (%s)", d.ID, why))
				continue
			}
			p.Group = append(p.Group, d.ID)
		}
		if why == "" {
			sizeGiB += size
		}
	}
	switch len(p.Group) {
	case 0:
	case 1:
		p.PerDisk = append([]string{p.Group[0]}, p.PerDisk...)
		p.Reasons = append([]string{fmt.Sprintf("%s: per-disk snapshot (the only disk that can join a group)", p.Group[0])}, p.Reasons...)
		p.Group = nil
	default:
		p.Reasons = append([]string{fmt.Sprintf("%s: one snapshot group (one point in time across these disks)", strings.Join(p.Group, ", "))}, p.Reasons...)
	}
}

// checkClosures makes sure every filesystem spanning several disks is
// captured at one point in time, or refuses the plan.
func (p *Plan) checkClosures(in Input, local *Local, closures [][]cloud.Disk) error {
	for _, cl := range closures {
		if len(cl) < 2 {
			continue
		}
		ids := make([]string, len(cl))
		for i, d := range cl {
			ids[i] = d.ID
		}
		c := Closure{Disks: ids}
		fss := local.filesystemsOn(ids)
		for _, fs := range fss {
			c.Filesystems = append(c.Filesystems, fs.MountPoint)
		}
		grouped, excluded := true, ""
		for _, id := range ids {
			grouped = grouped && p.Method(id) == MethodGroup
			if p.Method(id) == "" && excluded == "" {
				excluded = id
			}
		}
		unfreezable := unfreezableOf(fss)
		switch {
		case grouped:
			c.Grouped = true
			p.Reasons = append(p.Reasons, fmt.Sprintf("%s: %s span these disks; they are in the group together",
				strings.Join(ids, ", "), strings.Join(c.Filesystems, ", ")))
		case excluded == "" && in.Freeze && unfreezable == "":
			c.Frozen = true
			p.Reasons = append(p.Reasons, fmt.Sprintf("%s: one point in time by freezing %s during the creates",
				strings.Join(ids, ", "), strings.Join(c.Filesystems, ", ")))
		default:
			why := "they cannot all join one snapshot group"
			switch {
			case excluded != "":
				why = excluded + " cannot be snapshotted"
			case unfreezable != "":
				why += " and " + unfreezable
			case !in.Freeze:
				why += " and freezing is off (consistency crash)"
			}
			if !in.AllowInconsistent {
				return &InconsistentError{Disks: ids, Filesystems: c.Filesystems, Why: why}
			}
			c.Inconsistent, p.Inconsistent = true, true
			p.Reasons = append(p.Reasons, fmt.Sprintf("%s: NOT consistent with each other (%s); accepted by --allow-inconsistent",
				strings.Join(ids, ", "), why))
		}
		p.Closures = append(p.Closures, c)
	}
	return nil
}

// unfreezableOf names the first writable filesystem that cannot be frozen.
func unfreezableOf(fss []Filesystem) string {
	_, skipped := freeze.Classify(freezeTargets(fss))
	for _, s := range skipped {
		if !s.ReadOnly {
			return fmt.Sprintf("%s (%s) cannot be frozen: %s", s.MountPoint, s.FSType, s.Reason)
		}
	}
	return ""
}

func freezeTargets(fss []Filesystem) []freeze.Target {
	out := make([]freeze.Target, 0, len(fss))
	for _, fs := range fss {
		out = append(out, freeze.Target{MountPoint: fs.MountPoint, FSType: fs.FSType, Dev: fs.Dev, ReadOnly: fs.ReadOnly, Source: fs.Source})
	}
	return out
}

// InconsistentError refuses a plan that would snapshot a filesystem
// spanning several disks at different moments.
type InconsistentError struct {
	Disks       []string
	Filesystems []string
	Why         string
}

func (e *InconsistentError) Error() string {
	return fmt.Sprintf("%s span disks %s, which cannot be captured at one point in time: %s; select other disks, use --consistency fs, or accept the risk with --allow-inconsistent",
		strings.Join(e.Filesystems, ", "), strings.Join(e.Disks, ", "), e.Why)
}

func diskIndex(disks []cloud.Disk) map[string]cloud.Disk {
	m := make(map[string]cloud.Disk, len(disks))
	for _, d := range disks {
		m[d.ID] = d
	}
	return m
}

func containsDisk(disks []cloud.Disk, id string) bool {
	return slices.ContainsFunc(disks, func(d cloud.Disk) bool { return d.ID == id })
}

func without(list []string, x string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return s == x })
}

// Blocker says why disk d cannot be snapshotted by method m on an instance
// in zone, or "" when it can.
func Blocker(d cloud.Disk, zone string, m Method) string {
	if reason := snapshotBlocker(d); reason != "" || m == MethodPerDisk {
		return reason
	}
	return groupBlocker(d, zone)
}

// snapshotBlocker says why a disk cannot be snapshotted at all, or "".
func snapshotBlocker(d cloud.Disk) string {
	switch {
	case strings.HasPrefix(d.Category, "local_") || d.Category == "ephemeral" || d.Category == "ephemeral_ssd":
		return "local disk: ECS cannot snapshot it"
	case d.Status != "" && d.Status != "In_use":
		return fmt.Sprintf("disk status is %s, not In_use", d.Status)
	}
	return ""
}

// groupBlocker says why an otherwise snapshottable disk cannot join a group.
func groupBlocker(d cloud.Disk, zone string) string {
	switch {
	case !groupCategories[d.Category]:
		return fmt.Sprintf("category %s cannot join a snapshot group; only the ESSD family can", d.Category)
	case d.MultiAttach:
		return "multi-attach disks cannot join a snapshot group"
	case zone != "" && d.ZoneID != "" && d.ZoneID != zone:
		return fmt.Sprintf("disk is in zone %s, the instance in %s", d.ZoneID, zone)
	}
	return ""
}

// lessDisk orders the system disk first, then by ID, for stable output.
func lessDisk(a, b cloud.Disk) bool {
	if (a.Type == "system") != (b.Type == "system") {
		return a.Type == "system"
	}
	return a.ID < b.ID
}

// NothingToDoError means the selection left no disk that can be snapshotted.
type NothingToDoError struct{ Excluded []Excluded }

func (e *NothingToDoError) Error() string {
	if len(e.Excluded) == 0 {
		return "no disk matches the selection: check --disks against `ecssnap disks`"
	}
	parts := make([]string, len(e.Excluded))
	for i, x := range e.Excluded {
		parts[i] = x.DiskID + " (" + x.Reason + ")"
	}
	return "no disk can be snapshotted: " + strings.Join(parts, "; ")
}
