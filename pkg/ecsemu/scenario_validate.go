package ecsemu

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Validate checks sc for consistency. The error is one line naming the
// offending field.
func (sc *Scenario) Validate() error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("scenario: "+format, args...)
	}
	if sc.Region == "" {
		return fail("region is required")
	}
	if len(sc.AccessKeys) == 0 && sc.RAMRole == nil {
		return fail("access_keys or ram_role is required (nothing could call the API)")
	}
	for i, k := range sc.AccessKeys {
		if k.ID == "" || k.Secret == "" {
			return fail("access_keys[%d]: id and secret are required", i)
		}
	}
	if r := sc.RAMRole; r != nil {
		if r.Name == "" || strings.ContainsAny(r.Name, "/ \n") {
			return fail("ram_role.name %q is not a valid role name", r.Name)
		}
		if r.CredentialTTL.D() < 0 || r.RefreshBefore.D() < 0 || r.RefreshBefore.D() >= r.CredentialTTL.D() {
			return fail("ram_role: refresh_before (%s) must be shorter than credential_ttl (%s)", r.RefreshBefore, r.CredentialTTL)
		}
	}
	if err := sc.validateInstance(); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	diskIDs, err := sc.validateDisks()
	if err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	if err := sc.validateSnapshots(diskIDs); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	if sc.Quota.ManualSnapshotsPerDisk < 0 {
		return fail("quota.manual_snapshots_per_disk must be positive")
	}
	if sc.Speed.MiBPerSecond < 0 || sc.Speed.Minimum.D() < 0 {
		return fail("speed values must be positive")
	}
	if sc.GroupLimits.MaxDisks < 0 || sc.GroupLimits.MaxTiB < 0 {
		return fail("group_limits values must be positive")
	}
	for r, l := range sc.GroupLimits.Regions {
		if l.MaxDisks <= 0 || l.MaxTiB <= 0 {
			return fail("group_limits.regions[%s]: max_disks and max_tib must be positive", r)
		}
	}
	switch sc.Behavior.DeleteUnknownSnapshot {
	case DeleteUnknownError, DeleteUnknownIgnore:
	default:
		return fail("behavior.delete_unknown_snapshot must be %q or %q, not %q", DeleteUnknownError, DeleteUnknownIgnore, sc.Behavior.DeleteUnknownSnapshot)
	}
	switch sc.Behavior.GroupMemberTags {
	case MemberTagsNone, MemberTagsInherit:
	default:
		return fail("behavior.group_member_tags must be %q or %q, not %q", MemberTagsNone, MemberTagsInherit, sc.Behavior.GroupMemberTags)
	}
	for _, a := range sc.Behavior.DryRunActions {
		if _, ok := actions[a]; !ok {
			return fail("behavior.dry_run_actions: unknown action %q", a)
		}
	}
	if sc.Behavior.TimestampWindow.D() < 0 {
		return fail("behavior.timestamp_window must be positive")
	}
	if sc.Behavior.TagListPageSize < 1 || sc.Behavior.TagListPageSize > 1000 {
		return fail("behavior.tag_list_page_size must be 1 to 1000, not %d", sc.Behavior.TagListPageSize)
	}
	switch sc.Behavior.TagListFilter {
	case TagListMatching, TagListAll:
	default:
		return fail("behavior.tag_list_filter must be %q or %q, not %q", TagListMatching, TagListAll, sc.Behavior.TagListFilter)
	}
	if err := sc.Faults.Validate(); err != nil {
		return fmt.Errorf("scenario: faults: %w", err)
	}
	return nil
}

func (sc *Scenario) validateInstance() error {
	if err := validateOneInstance("instance", sc.Instance); err != nil {
		return err
	}
	seen := map[string]bool{sc.Instance.ID: true}
	for i, in := range sc.Instances {
		field := fmt.Sprintf("instances[%d]", i)
		if err := validateOneInstance(field, in); err != nil {
			return err
		}
		if seen[in.ID] {
			return fmt.Errorf("%s.id %q is repeated", field, in.ID)
		}
		seen[in.ID] = true
	}
	return nil
}

func validateOneInstance(field string, in Instance) error {
	if !strings.HasPrefix(in.ID, "i-") {
		return fmt.Errorf("%s.id %q must start with \"i-\"", field, in.ID)
	}
	if in.ZoneID == "" {
		return fmt.Errorf("%s.zone_id is required", field)
	}
	if !slices.Contains(instanceStatuses, in.Status) {
		return fmt.Errorf("%s.status %q is not one of %s", field, in.Status, strings.Join(instanceStatuses, ", "))
	}
	return nil
}

func (sc *Scenario) validateDisks() (map[string]bool, error) {
	ids := map[string]bool{}
	serials := map[string]bool{}
	instances := map[string]bool{"": true, sc.Instance.ID: true}
	for _, in := range sc.Instances {
		instances[in.ID] = true
	}
	systems := map[string]int{} // by instance; "" is Instance
	for i, d := range sc.Disks {
		if !instances[d.InstanceID] {
			return nil, fmt.Errorf("disks[%d].instance_id %q is not a scenario instance", i, d.InstanceID)
		}
		if !strings.HasPrefix(d.ID, "d-") {
			return nil, fmt.Errorf("disks[%d].id %q must start with \"d-\"", i, d.ID)
		}
		if ids[d.ID] {
			return nil, fmt.Errorf("disks[%d].id %q is repeated", i, d.ID)
		}
		ids[d.ID] = true
		if d.Serial != "-" {
			if serials[d.Serial] {
				return nil, fmt.Errorf("disks[%d].serial %q is repeated", i, d.Serial)
			}
			serials[d.Serial] = true
		}
		if !knownCategory(d.Category) {
			return nil, fmt.Errorf("disks[%d].category %q is unknown", i, d.Category)
		}
		switch d.Type {
		case "system":
			owner := d.InstanceID
			if owner == sc.Instance.ID {
				owner = ""
			}
			if systems[owner]++; systems[owner] > 1 {
				return nil, fmt.Errorf("disks[%d]: more than one system disk on instance %s", i, cmp.Or(owner, sc.Instance.ID))
			}
		case "data":
		default:
			return nil, fmt.Errorf("disks[%d].type must be system or data, not %q", i, d.Type)
		}
		if d.SizeGiB <= 0 {
			return nil, fmt.Errorf("disks[%d].size_gib must be positive", i)
		}
		if !slices.Contains(diskStatuses, d.Status) {
			return nil, fmt.Errorf("disks[%d].status %q is not one of %s", i, d.Status, strings.Join(diskStatuses, ", "))
		}
		if d.Detached && d.Status == "In_use" {
			return nil, fmt.Errorf("disks[%d] is detached but In_use", i)
		}
		if d.Detached && d.Type == "system" {
			return nil, fmt.Errorf("disks[%d] is a detached system disk", i)
		}
	}
	return ids, nil
}

func (sc *Scenario) validateSnapshots(diskIDs map[string]bool) error {
	ids := map[string]bool{}
	for i, s := range sc.Snapshots {
		if !strings.HasPrefix(s.ID, "s-") {
			return fmt.Errorf("snapshots[%d].id %q must start with \"s-\"", i, s.ID)
		}
		if ids[s.ID] {
			return fmt.Errorf("snapshots[%d].id %q is repeated", i, s.ID)
		}
		ids[s.ID] = true
		if !diskIDs[s.DiskID] {
			return fmt.Errorf("snapshots[%d].disk_id %q is not a scenario disk", i, s.DiskID)
		}
		switch s.Status {
		case snapAccomplished, snapProgressing, snapFailed:
		default:
			return fmt.Errorf("snapshots[%d].status %q must be accomplished, progressing or failed", i, s.Status)
		}
		switch s.Type {
		case snapTypeUser, snapTypeAuto:
		default:
			return fmt.Errorf("snapshots[%d].type %q must be user or auto", i, s.Type)
		}
		if !s.CreationTime.IsZero() && s.Age != 0 {
			return fmt.Errorf("snapshots[%d]: set creation_time or age, not both", i)
		}
		if s.RetentionDays < 0 || s.RetentionDays > 65536 {
			return fmt.Errorf("snapshots[%d].retention_days must be 1..65536", i)
		}
	}
	return nil
}
