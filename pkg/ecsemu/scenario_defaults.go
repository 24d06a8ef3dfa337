package ecsemu

import (
	"strings"
	"time"
)

// Identifiers of the built-in scenarios. They are not secrets: the emulator
// is a test double and nothing real accepts them.
const (
	DefaultRegion          = "cn-hangzhou"
	DefaultZone            = "cn-hangzhou-h"
	DefaultAccountID       = "1234567890123456"
	DefaultAccessKeyID     = "LTAI5tEcssnapEmuDefault1"
	DefaultAccessKeySecret = "ecssnapEmuSecretNotForRealUse000"
	DefaultInstanceID      = "i-bp1ecssnapemu0000001"
	DefaultRoleName        = "EcssnapEmuRole"
	DefaultSystemDiskID    = "d-bp1ecssnapsys0000001"
	DefaultDataDiskID      = "d-bp1ecssnapdata000001"
	// DemoEfficiencyDiskID is the demo scenario's third, non-ESSD disk.
	DemoEfficiencyDiskID = "d-bp1ecssnapeff0000001"
)

// Defaults applied to zero fields of a parsed scenario.
const (
	defaultManualQuota     = 256
	defaultGroupMaxDisks   = 16
	defaultGroupMaxTiB     = 32
	defaultMiBPerSecond    = 256
	defaultMinimumDuration = 10 * time.Second
	defaultCredentialTTL   = 6 * time.Hour
	defaultTimestampWindow = 15 * time.Minute
	defaultTagListPageSize = 50
)

// defaultDryRunActions are the actions whose v1 SDK request carries DryRun.
var defaultDryRunActions = []string{"DescribeInstances", "DescribeDisks", "DescribeSnapshots",
	"DescribeImages", "ResetDisk", "ResetDisks", "StopInstance", "StartInstance"}

// DefaultScenario is one instance in cn-hangzhou with an ESSD system disk
// and an ESSD data disk, a RAM role, and realistic snapshot speed (minutes).
func DefaultScenario() *Scenario {
	sc := &Scenario{
		Region:     DefaultRegion,
		AccountID:  DefaultAccountID,
		AccessKeys: []AccessKey{{ID: DefaultAccessKeyID, Secret: DefaultAccessKeySecret}},
		RAMRole:    &RAMRole{Name: DefaultRoleName},
		Instance: Instance{
			ID:           DefaultInstanceID,
			Name:         "ecssnap-emu",
			ZoneID:       DefaultZone,
			Type:         "ecs.g7.large",
			Hostname:     "ecssnap-emu",
			ImageID:      "aliyun_3_x64_20G_alibase_20240528.vhd",
			SerialNumber: "4f2b9a61-7c3e-4d15-9e8a-2b6c0d1e5f37",
		},
		Disks: []Disk{
			{ID: DefaultSystemDiskID, Name: "system", Category: "cloud_essd", Type: "system", SizeGiB: 40, PerformanceLevel: "PL0", DeleteWithInstance: true},
			{ID: DefaultDataDiskID, Name: "data", Category: "cloud_essd", Type: "data", SizeGiB: 100, PerformanceLevel: "PL1", Portable: true},
		},
	}
	sc.applyDefaults()
	return sc
}

// DemoScenario is DefaultScenario plus a cloud_efficiency data disk (not
// eligible for groups, one snapshot task at a time), with snapshots that
// finish within a few seconds of real time.
func DemoScenario() *Scenario {
	sc := DefaultScenario()
	sc.Disks = append(sc.Disks, Disk{
		ID: DemoEfficiencyDiskID, Name: "archive", Category: "cloud_efficiency", Type: "data", SizeGiB: 200, Portable: true,
	})
	// 64 GiB/s with a 2 s floor: 40 and 100 GiB take 2 s, 200 GiB about 3 s.
	sc.Speed = Speed{MiBPerSecond: 64 * 1024, Minimum: Duration(2 * time.Second)}
	sc.applyDefaults()
	return sc
}

// applyDefaults fills zero fields. It is idempotent.
func (sc *Scenario) applyDefaults() {
	if sc.Quota.ManualSnapshotsPerDisk == 0 {
		sc.Quota.ManualSnapshotsPerDisk = defaultManualQuota
	}
	if sc.Speed.MiBPerSecond == 0 {
		sc.Speed.MiBPerSecond = defaultMiBPerSecond
	}
	if sc.Speed.Minimum == 0 {
		sc.Speed.Minimum = Duration(defaultMinimumDuration)
	}
	if sc.GroupLimits.MaxDisks == 0 {
		sc.GroupLimits.MaxDisks = defaultGroupMaxDisks
	}
	if sc.GroupLimits.MaxTiB == 0 {
		sc.GroupLimits.MaxTiB = defaultGroupMaxTiB
	}
	if r := sc.RAMRole; r != nil {
		if r.CredentialTTL == 0 {
			r.CredentialTTL = Duration(defaultCredentialTTL)
		}
		if r.RefreshBefore == 0 {
			r.RefreshBefore = Duration(min(time.Hour, r.CredentialTTL.D()/2))
		}
	}
	if sc.Behavior.DeleteUnknownSnapshot == "" {
		sc.Behavior.DeleteUnknownSnapshot = DeleteUnknownError
	}
	if sc.Behavior.DryRunActions == nil {
		sc.Behavior.DryRunActions = append([]string(nil), defaultDryRunActions...)
	}
	if sc.Behavior.GroupMemberTags == "" {
		sc.Behavior.GroupMemberTags = MemberTagsNone
	}
	if sc.Behavior.TimestampWindow == 0 {
		sc.Behavior.TimestampWindow = Duration(defaultTimestampWindow)
	}
	if sc.Behavior.TagListPageSize == 0 {
		sc.Behavior.TagListPageSize = defaultTagListPageSize
	}
	if sc.Behavior.TagListFilter == "" {
		sc.Behavior.TagListFilter = TagListMatching
	}
	// A disk's zone defaults to its instance's ("" names Instance).
	zones := map[string]string{"": sc.Instance.ZoneID}
	for _, in := range append([]*Instance{&sc.Instance}, pointers(sc.Instances)...) {
		if in.Status == "" {
			in.Status = "Running"
		}
		if in.Name == "" {
			in.Name = in.Hostname
		}
		zones[in.ID] = in.ZoneID
	}
	for i := range sc.Disks {
		d := &sc.Disks[i]
		if d.Category == "" {
			d.Category = "cloud_essd"
		}
		if d.Type == "" {
			d.Type = "data"
		}
		if d.ZoneID == "" {
			d.ZoneID = zones[d.InstanceID]
		}
		if d.Serial == "" {
			d.Serial = strings.TrimPrefix(d.ID, "d-")
		}
		if d.PerformanceLevel == "" && d.Category == "cloud_essd" {
			d.PerformanceLevel = "PL1"
		}
		if d.Status == "" {
			d.Status = "In_use"
			if d.Detached {
				d.Status = "Available"
			}
		}
	}
	for i := range sc.Snapshots {
		s := &sc.Snapshots[i]
		if s.Status == "" {
			s.Status = snapAccomplished
		}
		if s.Type == "" {
			s.Type = snapTypeUser
		}
	}
}

// pointers returns a pointer to each element of s.
func pointers[T any](s []T) []*T {
	out := make([]*T, len(s))
	for i := range s {
		out[i] = &s[i]
	}
	return out
}
