package ecsemu

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Scenario describes the cloud the emulator pretends to be: the account,
// the instance the agent runs on, its disks, pre-existing snapshots, limits
// and the options for behaviour the documentation leaves unsettled.
// Keys are snake_case in YAML and JSON; unknown keys are rejected.
type Scenario struct {
	// Region is the region ID, e.g. "cn-hangzhou". Requests for any other
	// RegionId get InvalidRegionId.NotFound.
	Region string `yaml:"region" json:"region"`
	// AccountID is the owner account ID served as meta-data/owner-account-id.
	AccountID string `yaml:"account_id" json:"account_id"`
	// AccessKeys are the long-term keys the API accepts.
	AccessKeys []AccessKey `yaml:"access_keys" json:"access_keys"`
	// RAMRole, when set, is attached to the instance: the metadata service
	// serves STS credentials for it and the API accepts them until expiry.
	RAMRole *RAMRole `yaml:"ram_role,omitempty" json:"ram_role,omitempty"`
	// Instance is the instance the agent runs on.
	Instance Instance `yaml:"instance" json:"instance"`
	// Instances are further instances of the same account and region (a
	// fleet). Each sees its own metadata service (InstanceMetadataHandler);
	// the API serves them all, under one rate limit. Their disks name them
	// in Disk.InstanceID.
	Instances []Instance `yaml:"instances,omitempty" json:"instances,omitempty"`
	// Disks are the cloud disks of the instance (and detached ones).
	Disks []Disk `yaml:"disks" json:"disks"`
	// Snapshots exist before the emulator starts.
	Snapshots []Snapshot `yaml:"snapshots,omitempty" json:"snapshots,omitempty"`
	// Quota holds account limits.
	Quota Quota `yaml:"quota" json:"quota"`
	// Speed sets how fast snapshots progress.
	Speed Speed `yaml:"speed" json:"speed"`
	// GroupLimits bounds snapshot-consistent groups.
	GroupLimits GroupLimits `yaml:"group_limits" json:"group_limits"`
	// Metadata configures the metadata service.
	Metadata Metadata `yaml:"metadata" json:"metadata"`
	// Behavior selects among behaviours the documentation does not settle.
	Behavior Behavior `yaml:"behavior" json:"behavior"`
	// Restore times the asynchronous steps of restores (disks created,
	// attached, detached and reset; instances stopped and started; images)
	// and bounds the disks per instance.
	Restore Restore `yaml:"restore" json:"restore"`
	// Faults are injected from the start; they can be changed at run time.
	Faults Faults `yaml:"faults" json:"faults"`
}

// AccessKey is a long-term AccessKey pair.
type AccessKey struct {
	ID     string `yaml:"id" json:"id"`
	Secret string `yaml:"secret" json:"secret"`
}

// RAMRole is the instance RAM role whose STS credentials the metadata
// service hands out.
type RAMRole struct {
	Name string `yaml:"name" json:"name"`
	// CredentialTTL is the lifetime of each STS credential (default 6h).
	CredentialTTL Duration `yaml:"credential_ttl,omitempty" json:"credential_ttl,omitempty"`
	// RefreshBefore is how long before expiry the metadata service starts
	// serving a fresh set, as the real one rotates ahead of expiry
	// (exact lead unconfirmed; default the smaller of 1h and TTL/2).
	RefreshBefore Duration `yaml:"refresh_before,omitempty" json:"refresh_before,omitempty"`
}

// Instance is the ECS instance the agent runs on.
type Instance struct {
	ID     string `yaml:"id" json:"id"`
	Name   string `yaml:"name,omitempty" json:"name,omitempty"`
	Status string `yaml:"status,omitempty" json:"status,omitempty"` // Pending|Running|Starting|Stopping|Stopped (default Running)
	ZoneID string `yaml:"zone_id" json:"zone_id"`
	Type   string `yaml:"type,omitempty" json:"type,omitempty"` // instance type, e.g. ecs.g7.large
	// Hostname is served as meta-data/hostname and DescribeInstances HostName.
	Hostname     string `yaml:"hostname,omitempty" json:"hostname,omitempty"`
	ImageID      string `yaml:"image_id,omitempty" json:"image_id,omitempty"`
	SerialNumber string `yaml:"serial_number,omitempty" json:"serial_number,omitempty"`
	// NeverStarted marks an instance that was created but never started:
	// snapshots of its disks are refused.
	NeverStarted bool `yaml:"never_started,omitempty" json:"never_started,omitempty"`
	// LockReasons are DescribeInstances OperationLocks; "security" forbids
	// creating snapshots.
	LockReasons []string `yaml:"lock_reasons,omitempty" json:"lock_reasons,omitempty"`
}

// Disk is a cloud disk.
type Disk struct {
	ID string `yaml:"id" json:"id"`
	// InstanceID is the instance the disk belongs to: Instance when empty,
	// else one of Instances.
	InstanceID string `yaml:"instance_id,omitempty" json:"instance_id,omitempty"`
	// Serial is the guest-visible serial (default: ID without "d-"); "-"
	// means the disk has none (disks created before 2020-06-10).
	Serial string `yaml:"serial,omitempty" json:"serial,omitempty"`
	Name   string `yaml:"name,omitempty" json:"name,omitempty"`
	// Category: cloud_essd (default), cloud_auto, cloud_essd_entry,
	// cloud_regional_disk_auto, cloud_efficiency, cloud_ssd, cloud, or a
	// local category (ephemeral_ssd, local_ssd_pro, ...).
	Category string `yaml:"category,omitempty" json:"category,omitempty"`
	Type     string `yaml:"type,omitempty" json:"type,omitempty"` // system|data (default data)
	SizeGiB  int    `yaml:"size_gib" json:"size_gib"`
	// MultiAttach marks a multi-attach disk (DescribeDisks MultiAttach=Enabled).
	MultiAttach bool `yaml:"multi_attach,omitempty" json:"multi_attach,omitempty"`
	// Status: In_use (default), Available, Attaching, Detaching, Creating, ReIniting.
	Status           string `yaml:"status,omitempty" json:"status,omitempty"`
	PerformanceLevel string `yaml:"performance_level,omitempty" json:"performance_level,omitempty"`
	// ZoneID defaults to the instance's zone.
	ZoneID string `yaml:"zone_id,omitempty" json:"zone_id,omitempty"`
	// Device is the deprecated DescribeDisks Device (default /dev/xvd<letter>
	// by position; empty for multi-attach disks). It need not match the guest.
	Device             string            `yaml:"device,omitempty" json:"device,omitempty"`
	Encrypted          bool              `yaml:"encrypted,omitempty" json:"encrypted,omitempty"`
	Portable           bool              `yaml:"portable,omitempty" json:"portable,omitempty"`
	DeleteWithInstance bool              `yaml:"delete_with_instance,omitempty" json:"delete_with_instance,omitempty"`
	Tags               map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
	// Detached marks a disk not attached to the instance (status Available).
	Detached bool `yaml:"detached,omitempty" json:"detached,omitempty"`
	// NeverAttached marks an Available disk that was never attached to any
	// instance: snapshots of it are refused.
	NeverAttached bool `yaml:"never_attached,omitempty" json:"never_attached,omitempty"`
}

// Snapshot is a snapshot that exists when the emulator starts.
type Snapshot struct {
	ID          string            `yaml:"id" json:"id"`
	DiskID      string            `yaml:"disk_id" json:"disk_id"`
	Name        string            `yaml:"name,omitempty" json:"name,omitempty"`
	Description string            `yaml:"description,omitempty" json:"description,omitempty"`
	Tags        map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
	// CreationTime is absolute; Age (created this long before the emulator
	// starts) is the alternative that suits a real clock.
	CreationTime time.Time `yaml:"creation_time,omitempty" json:"creation_time,omitzero"`
	Age          Duration  `yaml:"age,omitempty" json:"age,omitempty"`
	// Status: accomplished (default), progressing (progress continues from
	// the creation time at the scenario speed) or failed.
	Status string `yaml:"status,omitempty" json:"status,omitempty"`
	// Type: user (default; counts toward the manual quota) or auto.
	Type          string `yaml:"type,omitempty" json:"type,omitempty"`
	RetentionDays int    `yaml:"retention_days,omitempty" json:"retention_days,omitempty"`
	// CreatedDisk and CreatedImage mark snapshots used to create a disk or an
	// image: DeleteSnapshot refuses them (a disk only without Force).
	CreatedDisk  bool `yaml:"created_disk,omitempty" json:"created_disk,omitempty"`
	CreatedImage bool `yaml:"created_image,omitempty" json:"created_image,omitempty"`
}

// Quota holds account limits.
type Quota struct {
	// ManualSnapshotsPerDisk is the manual snapshot quota per disk
	// (default 256; the current real value is unconfirmed).
	ManualSnapshotsPerDisk int `yaml:"manual_snapshots_per_disk,omitempty" json:"manual_snapshots_per_disk,omitempty"`
}

// Speed sets how long a snapshot takes: max(Minimum, size / MiBPerSecond).
type Speed struct {
	MiBPerSecond float64  `yaml:"mib_per_second,omitempty" json:"mib_per_second,omitempty"` // default 256
	Minimum      Duration `yaml:"minimum,omitempty" json:"minimum,omitempty"`               // default 10s
}

// GroupLimits bounds snapshot-consistent groups.
type GroupLimits struct {
	MaxDisks int `yaml:"max_disks,omitempty" json:"max_disks,omitempty"` // default 16
	MaxTiB   int `yaml:"max_tib,omitempty" json:"max_tib,omitempty"`     // default 32
	// Regions overrides the limits per region (the real service allows 128
	// disks and 256 TiB in a set of regions).
	Regions map[string]GroupLimit `yaml:"regions,omitempty" json:"regions,omitempty"`
}

// GroupLimit is one region's override of GroupLimits.
type GroupLimit struct {
	MaxDisks int `yaml:"max_disks" json:"max_disks"`
	MaxTiB   int `yaml:"max_tib" json:"max_tib"`
}

// Metadata configures the metadata service.
type Metadata struct {
	// TokenRequired makes tokenless GETs fail with 403 (security hardening
	// mode enforced on the instance).
	TokenRequired bool `yaml:"token_required,omitempty" json:"token_required,omitempty"`
	// Disabled makes every metadata request fail with 403 (access disabled
	// on the instance).
	Disabled bool `yaml:"disabled,omitempty" json:"disabled,omitempty"`
}

// Behavior selects among behaviours the documentation leaves unsettled.
type Behavior struct {
	// DeleteUnknownSnapshot: "error" (default, 404 InvalidSnapshotId.NotFound)
	// or "ignore" (success), for DeleteSnapshot of an unknown ID.
	DeleteUnknownSnapshot string `yaml:"delete_unknown_snapshot,omitempty" json:"delete_unknown_snapshot,omitempty"`
	// DryRunActions lists the actions that honour DryRun=true (default: those
	// whose SDK request has a DryRun field: DescribeInstances, DescribeDisks,
	// DescribeSnapshots). Elsewhere DryRun is ignored and the call runs.
	DryRunActions []string `yaml:"dry_run_actions,omitempty" json:"dry_run_actions,omitempty"`
	// GroupMemberTags: "none" (default: member snapshots carry only
	// acs:ecs:createFrom) or "inherit" (they also get the group's tags).
	GroupMemberTags string `yaml:"group_member_tags,omitempty" json:"group_member_tags,omitempty"`
	// TimestampWindow is how far a request Timestamp may be from the
	// signing clock (default 15m).
	TimestampWindow Duration `yaml:"timestamp_window,omitempty" json:"timestamp_window,omitempty"`
	// TagListPageSize is how many resource-tag pairs one ListTagResources
	// page holds (the API has no MaxResults; the documented 50 is
	// unconfirmed). Default 50.
	TagListPageSize int `yaml:"tag_list_page_size,omitempty" json:"tag_list_page_size,omitempty"`
	// TagListFilter: with a Tag.N filter, ListTagResources lists the
	// "matching" pairs only (default) or "all" tags of the matching
	// resources; the documentation does not say which.
	TagListFilter string `yaml:"tag_list_filter,omitempty" json:"tag_list_filter,omitempty"`
}

// Behavior values.
const (
	DeleteUnknownError  = "error"
	DeleteUnknownIgnore = "ignore"
	MemberTagsNone      = "none"
	MemberTagsInherit   = "inherit"
	TagListMatching     = "matching"
	TagListAll          = "all"
)

// ParseScenario reads a scenario from YAML or JSON (JSON is read as YAML,
// which it is a subset of), applies defaults and validates it. Unknown keys
// are errors.
func ParseScenario(data []byte) (*Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var sc Scenario
	if err := dec.Decode(&sc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("scenario: empty document")
		}
		return nil, fmt.Errorf("scenario: %w", oneLine(err))
	}
	sc.applyDefaults()
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return &sc, nil
}

// unknownField matches yaml.v3's report of an unknown key.
var unknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)

// oneLine flattens yaml.v3's multi-line type errors ("unmarshal errors:\n
// line 4: field x not found in type ecsemu.Disk") into one line.
func oneLine(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		msgs[i] = unknownField.ReplaceAllString(m, `unknown key "$1"`)
	}
	return errors.New(strings.Join(msgs, "; "))
}

// LoadScenario reads and parses the scenario file at path.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	sc, err := ParseScenario(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sc, nil
}

// Clone returns a deep copy of sc.
func (sc *Scenario) Clone() *Scenario {
	c := *sc
	c.AccessKeys = append([]AccessKey(nil), sc.AccessKeys...)
	if sc.RAMRole != nil {
		r := *sc.RAMRole
		c.RAMRole = &r
	}
	c.Instance.LockReasons = append([]string(nil), sc.Instance.LockReasons...)
	if sc.Instances != nil {
		c.Instances = make([]Instance, len(sc.Instances))
		for i, in := range sc.Instances {
			in.LockReasons = append([]string(nil), in.LockReasons...)
			c.Instances[i] = in
		}
	}
	c.Disks = make([]Disk, len(sc.Disks))
	for i, d := range sc.Disks {
		d.Tags = cloneMap(d.Tags)
		c.Disks[i] = d
	}
	c.Snapshots = make([]Snapshot, len(sc.Snapshots))
	for i, s := range sc.Snapshots {
		s.Tags = cloneMap(s.Tags)
		c.Snapshots[i] = s
	}
	if sc.GroupLimits.Regions != nil {
		c.GroupLimits.Regions = make(map[string]GroupLimit, len(sc.GroupLimits.Regions))
		for k, v := range sc.GroupLimits.Regions {
			c.GroupLimits.Regions[k] = v
		}
	}
	c.Behavior.DryRunActions = append([]string(nil), sc.Behavior.DryRunActions...)
	c.Faults.Actions = append([]string(nil), sc.Faults.Actions...)
	return &c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
