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

// Input is what the planner decides from.
type Input struct {
	InstanceID string
	ZoneID     string
	Disks      []cloud.Disk // every disk attached to the instance
	Selection  Selection
	Limits     Limits
}

// Method names how a disk is snapshotted.
type Method string

const (
	MethodGroup   Method = "group"
	MethodPerDisk Method = "per-disk"
)

// Plan is the decision for one job.
type Plan struct {
	InstanceID string                `json:"instance_id"`
	Group      []string              `json:"group,omitempty"` // disks in the one snapshot group
	PerDisk    []string              `json:"per_disk,omitempty"`
	Excluded   []Excluded            `json:"excluded,omitempty"`
	Reasons    []string              `json:"reasons"` // why, in words, one line each
	Disks      map[string]cloud.Disk `json:"-"`
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

// Build makes the plan: every selected disk that can join a group does (one
// CreateSnapshotGroup, one point in time), the rest get per-disk snapshots,
// and a group of one becomes a per-disk snapshot (which, unlike a group, can
// carry RetentionDays).
func Build(in Input) (*Plan, error) {
	if in.Limits.MaxDisks <= 0 {
		in.Limits.MaxDisks = DefaultLimits.MaxDisks
	}
	if in.Limits.MaxGiB <= 0 {
		in.Limits.MaxGiB = DefaultLimits.MaxGiB
	}
	p := &Plan{InstanceID: in.InstanceID, Disks: map[string]cloud.Disk{}}
	selected, err := in.Selection.apply(in.Disks)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(selected, func(i, j int) bool { return lessDisk(selected[i], selected[j]) })

	var candidates []cloud.Disk
	for _, d := range selected {
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
		candidates = append(candidates, d)
	}
	p.placeCandidates(candidates, in.Limits)
	if len(p.Group)+len(p.PerDisk) == 0 {
		return p, &NothingToDoError{Excluded: p.Excluded}
	}
	return p, nil
}

// placeCandidates puts group-eligible disks into one group, within limits.
func (p *Plan) placeCandidates(candidates []cloud.Disk, lim Limits) {
	var sizeGiB int
	for _, d := range candidates {
		switch {
		case len(p.Group) >= lim.MaxDisks:
			p.PerDisk = append(p.PerDisk, d.ID)
			p.Reasons = append(p.Reasons, fmt.Sprintf("%s: per-disk snapshot (the group already holds %d disks, the limit)", d.ID, lim.MaxDisks))
		case sizeGiB+d.SizeGiB > lim.MaxGiB:
			p.PerDisk = append(p.PerDisk, d.ID)
			p.Reasons = append(p.Reasons, fmt.Sprintf("%s: per-disk snapshot (the group would exceed %d GiB)", d.ID, lim.MaxGiB))
		default:
			p.Group = append(p.Group, d.ID)
			sizeGiB += d.SizeGiB
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
