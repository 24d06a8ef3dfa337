package cloud

import (
	"strconv"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// Instance is the part of DescribeInstances ecssnap uses.
type Instance struct {
	ID     string   `json:"id"`
	Status string   `json:"status"`
	ZoneID string   `json:"zone_id"`
	Type   string   `json:"type"`
	Locks  []string `json:"locks,omitempty"` // OperationLocks reasons
}

// Disk is one cloud disk as DescribeDisks reports it.
type Disk struct {
	ID               string            `json:"id"`
	Name             string            `json:"name,omitempty"`
	Type             string            `json:"type"` // system or data
	Category         string            `json:"category"`
	SizeGiB          int               `json:"size_gib"`
	Status           string            `json:"status"`
	Serial           string            `json:"serial,omitempty"`
	ZoneID           string            `json:"zone_id"`
	PerformanceLevel string            `json:"performance_level,omitempty"`
	MultiAttach      bool              `json:"multi_attach"`
	Portable         bool              `json:"portable"`
	Encrypted        bool              `json:"encrypted"`
	Tags             map[string]string `json:"tags,omitempty"`
	// InstanceID is the instance the disk is attached to ("" when detached).
	InstanceID string `json:"instance_id,omitempty"`
	// SourceSnapshotID is the snapshot the disk was created from; it never
	// changes during the disk's life.
	SourceSnapshotID string `json:"source_snapshot_id,omitempty"`
}

// Tag is a key and value on a cloud resource.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Snapshot statuses as the API spells them.
const (
	StatusProgressing  = "progressing"
	StatusAccomplished = "accomplished"
	StatusFailed       = "failed"
)

// Snapshot is one snapshot as DescribeSnapshots reports it.
type Snapshot struct {
	ID            string            `json:"id"`
	Name          string            `json:"name,omitempty"`
	Description   string            `json:"description,omitempty"`
	DiskID        string            `json:"disk_id"`
	DiskType      string            `json:"disk_type,omitempty"`
	DiskSizeGiB   int               `json:"disk_size_gib,omitempty"`
	Status        string            `json:"status"`
	Progress      int               `json:"progress"` // percent
	RemainSeconds int               `json:"remain_seconds,omitempty"`
	Created       time.Time         `json:"created"`
	RetentionDays int               `json:"retention_days,omitempty"`
	Available     bool              `json:"available"`
	Tags          map[string]string `json:"tags,omitempty"`
}

// SnapshotGroup is one snapshot-consistent group and its members.
type SnapshotGroup struct {
	ID             string            `json:"id"`
	Name           string            `json:"name,omitempty"`
	Status         string            `json:"status"`
	ProgressStatus string            `json:"progress_status,omitempty"`
	InstanceID     string            `json:"instance_id"`
	Created        time.Time         `json:"created"`
	Tags           map[string]string `json:"tags,omitempty"`
	Members        []GroupMember     `json:"members"`
}

// GroupMember is a snapshot inside a group.
type GroupMember struct {
	SnapshotID string `json:"snapshot_id"`
	DiskID     string `json:"disk_id"`
	Progress   int    `json:"progress"`
	Available  bool   `json:"available"`
}

// apiTime parses the API's UTC timestamps (2006-01-02T15:04:05Z, sometimes
// without seconds); unparsable values become the zero time.
func apiTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// percent parses "45%" (or "45") into 45; bad values become 0.
func percent(s string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	return n
}

func tagMap(tags []ecs.Tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		// Snapshots and disks say TagKey/TagValue, groups Key/Value.
		k, v := t.TagKey, t.TagValue
		if k == "" {
			k, v = t.Key, t.Value
		}
		m[k] = v
	}
	return m
}

func fromSDKDisk(d ecs.Disk) Disk {
	return Disk{
		ID: d.DiskId, Name: d.DiskName, Type: d.Type, Category: d.Category, SizeGiB: d.Size,
		Status: d.Status, Serial: d.SerialNumber, ZoneID: d.ZoneId, PerformanceLevel: d.PerformanceLevel,
		MultiAttach: strings.EqualFold(d.MultiAttach, "Enabled"), Portable: d.Portable,
		Encrypted: d.Encrypted, Tags: tagMap(d.Tags.Tag), InstanceID: d.InstanceId, SourceSnapshotID: d.SourceSnapshotId,
	}
}

func fromSDKSnapshot(s ecs.Snapshot) Snapshot {
	size, _ := strconv.Atoi(s.SourceDiskSize)
	return Snapshot{
		ID: s.SnapshotId, Name: s.SnapshotName, Description: s.Description, DiskID: s.SourceDiskId,
		DiskType: s.SourceDiskType, DiskSizeGiB: size, Status: s.Status, Progress: percent(s.Progress),
		RemainSeconds: s.RemainTime, Created: apiTime(s.CreationTime), RetentionDays: s.RetentionDays,
		Available: s.Available, Tags: tagMap(s.Tags.Tag),
	}
}

func fromSDKGroup(g ecs.SnapshotGroup) SnapshotGroup {
	out := SnapshotGroup{
		ID: g.SnapshotGroupId, Name: g.Name, Status: g.Status, ProgressStatus: g.ProgressStatus,
		InstanceID: g.InstanceId, Created: apiTime(g.CreationTime), Tags: tagMap(g.Tags.Tag),
	}
	for _, s := range g.Snapshots.Snapshot {
		out.Members = append(out.Members, GroupMember{
			SnapshotID: s.SnapshotId, DiskID: s.SourceDiskId, Progress: percent(s.Progress), Available: s.Available,
		})
	}
	return out
}
