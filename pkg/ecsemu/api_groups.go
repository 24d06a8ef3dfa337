package ecsemu

import (
	"maps"
	"slices"
	"strconv"
	"time"
)

// memberTagCreateFrom is the system tag on every member snapshot of a
// snapshot-consistent group: acs:ecs:createFrom=<instance-id>.
const memberTagCreateFrom = "acs:ecs:createFrom"

type (
	createGroupResponse struct {
		SnapshotGroupID string `json:"SnapshotGroupId"`
	}
	groupsResponse struct {
		NextToken      string      `json:"NextToken"`
		SnapshotGroups groupsOuter `json:"SnapshotGroups"`
	}
	groupsOuter struct {
		SnapshotGroup []groupJSON `json:"SnapshotGroup"`
	}
	// groupJSON uses Key/Value tags, unlike snapshots and disks.
	groupJSON struct {
		SnapshotGroupID string           `json:"SnapshotGroupId"`
		Name            string           `json:"Name"`
		Description     string           `json:"Description"`
		Status          string           `json:"Status"`
		ProgressStatus  string           `json:"ProgressStatus"`
		CreationTime    string           `json:"CreationTime"`
		InstanceID      string           `json:"InstanceId"`
		ResourceGroupID string           `json:"ResourceGroupId"`
		Tags            groupTagsJSON    `json:"Tags"`
		Snapshots       groupMembersJSON `json:"Snapshots"`
	}
	groupTagsJSON struct {
		Tag []groupTagJSON `json:"Tag"`
	}
	groupTagJSON struct {
		Key   string `json:"Key"`
		Value string `json:"Value"`
	}
	groupMembersJSON struct {
		Snapshot []groupMemberJSON `json:"Snapshot"`
	}
	groupMemberJSON struct {
		SnapshotID     string `json:"SnapshotId"`
		SourceDiskID   string `json:"SourceDiskId"`
		SourceDiskType string `json:"SourceDiskType"`
		Progress       string `json:"Progress"`
		Available      bool   `json:"Available"`
		InstantAccess  bool   `json:"InstantAccess"`
	}
	deleteGroupResponse struct {
		OperationProgressSet opProgressSet `json:"OperationProgressSet"`
	}
	opProgressSet struct {
		OperationProgress []opProgress `json:"OperationProgress"`
	}
	opProgress struct {
		OperationStatus string         `json:"OperationStatus"`
		ErrorCode       string         `json:"ErrorCode,omitempty"`
		ErrorMsg        string         `json:"ErrorMsg,omitempty"`
		RelatedItemSet  relatedItemSet `json:"RelatedItemSet"`
	}
	relatedItemSet struct {
		RelatedItem []relatedItem `json:"RelatedItem"`
	}
	relatedItem struct {
		Name  string `json:"Name"`
		Value string `json:"Value"`
	}
)

var groupsPaging = pageStyle{minMax: 1, maxMax: 100, defMax: 10}

// maxDiskParams bounds DiskId.N / ExcludeDiskId.N; the group limits
// proper are checked after, with their own error codes.
const maxDiskParams = 256

// groupLimit returns the disk and TiB limits in force for the region.
func (e *Emulator) groupLimit() GroupLimit {
	if l, ok := e.sc.GroupLimits.Regions[e.sc.Region]; ok {
		return l
	}
	return GroupLimit{MaxDisks: e.sc.GroupLimits.MaxDisks, MaxTiB: e.sc.GroupLimits.MaxTiB}
}

func (e *Emulator) createSnapshotGroup(c *callCtx) (any, *apiError) {
	include, aerr := c.p.list("DiskId", maxDiskParams)
	if aerr != nil {
		return nil, aerr
	}
	exclude, aerr := c.p.list("ExcludeDiskId", maxDiskParams)
	if aerr != nil {
		return nil, aerr
	}
	if len(include) > 0 && len(exclude) > 0 {
		return nil, errExcludeConflict
	}
	name, desc := c.p["Name"], c.p["Description"]
	if !validName(name, true) {
		return nil, errGroupName
	}
	if !validDescription(desc) {
		return nil, errDescription
	}
	tags, aerr := tagsFor(c.p, true)
	if aerr != nil {
		return nil, aerr
	}
	members, aerr := e.groupMembers(c.p["InstanceId"], include, exclude)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := e.checkGroupEligible(members, c.now); aerr != nil {
		return nil, aerr
	}
	if c.dryRun {
		return nil, nil
	}
	g := &groupState{
		id: e.newID("ssg-"), name: name, description: desc, instanceID: c.p["InstanceId"],
		tags: map[string]string{}, created: c.now, seq: e.nextSeq(),
	}
	for _, t := range tags {
		g.tags[t.Key] = t.Value
	}
	for _, d := range members {
		inst := d.attachedTo()
		if g.instanceID == "" {
			g.instanceID = inst
		}
		var memberTags []tag
		if e.sc.Behavior.GroupMemberTags == MemberTagsInherit {
			memberTags = append(memberTags, tags...)
		}
		memberTags = append(memberTags, tag{Key: memberTagCreateFrom, Value: inst})
		s := e.newSnapshot(d, c.now, "", "", memberTags, 0, g.id)
		g.members = append(g.members, s.id)
	}
	e.groups[g.id] = g
	if aerr := e.captureBytes(e.groupSnapshots(g)); aerr != nil {
		return nil, aerr
	}
	e.log.Info("snapshot group created", "group", g.id, "members", len(g.members))
	return createGroupResponse{SnapshotGroupID: g.id}, nil
}

// groupMembers resolves the disks of a group request: DiskId.N (on the
// instance, if given), or every disk of the instance minus ExcludeDiskId.N.
func (e *Emulator) groupMembers(instanceID string, include, exclude []string) ([]*diskState, *apiError) {
	if instanceID == "" && len(include) == 0 {
		return nil, errGroupNeedsDiskOrInst
	}
	if instanceID != "" && e.instanceByID[instanceID] == nil {
		return nil, errInstanceNotFound
	}
	var members []*diskState
	if len(include) > 0 {
		for _, id := range include {
			d, ok := e.diskByID[id]
			if !ok {
				return nil, errDiskNotFound
			}
			if instanceID != "" && d.attachedTo() != instanceID {
				return nil, errDiskNotOnInstance
			}
			if !slices.Contains(members, d) {
				members = append(members, d)
			}
		}
		return members, nil
	}
	for _, id := range exclude {
		if _, ok := e.diskByID[id]; !ok {
			return nil, errDiskNotFound
		}
	}
	for _, d := range e.disks {
		if d.attachedTo() == instanceID && !slices.Contains(exclude, d.spec.ID) {
			members = append(members, d)
		}
	}
	if len(members) == 0 {
		return nil, errNoGroupDisks
	}
	return members, nil
}

// checkGroupEligible applies the group rules: no multi-attach disk, ESSD
// family only (regional ESSD only with its own kind), one zone, the disk
// count and capacity limits, then each disk's own snapshot rules.
func (e *Emulator) checkGroupEligible(members []*diskState, now time.Time) *apiError {
	regional := 0
	totalGiB := 0
	for _, d := range members {
		if d.spec.MultiAttach {
			return errMultiAttach
		}
		if !isESSDFamily(d.spec.Category) {
			return errGroupCategory
		}
		if d.spec.Category == regionalESSD {
			regional++
		}
		if d.spec.ZoneID != members[0].spec.ZoneID {
			return errNotInSameZone
		}
		totalGiB += d.spec.SizeGiB
	}
	if regional != 0 && regional != len(members) {
		return errGroupCategory
	}
	lim := e.groupLimit()
	if len(members) > lim.MaxDisks {
		return errTooManyGroupDisks
	}
	if totalGiB > lim.MaxTiB*1024 {
		return errTooMuchGroupCapacity
	}
	for _, d := range members {
		if aerr := e.checkSnapshotable(d, now); aerr != nil {
			return aerr
		}
	}
	return nil
}

func (e *Emulator) describeSnapshotGroups(c *callCtx) (any, *apiError) {
	ids, aerr := c.p.list("SnapshotGroupId", 10)
	if aerr != nil {
		return nil, aerr
	}
	statuses, aerr := c.p.list("Status", 3)
	if aerr != nil {
		return nil, aerr
	}
	for _, s := range statuses {
		if s != snapProgressing && s != snapAccomplished && s != snapFailed {
			return nil, errInvalidParameter("Status")
		}
	}
	filter, aerr := tagsFor(c.p, false)
	if aerr != nil {
		return nil, aerr
	}
	pg, aerr := parsePager(c.p, groupsPaging)
	if aerr != nil {
		return nil, aerr
	}
	all := slices.Collect(maps.Values(e.groups))
	slices.SortFunc(all, func(a, b *groupState) int { return cmpDesc(a.seq, b.seq) })
	var list []*groupState
	for _, g := range all {
		switch {
		case len(ids) > 0 && !slices.Contains(ids, g.id),
			len(statuses) > 0 && !slices.Contains(statuses, e.groupStatus(g, c.now)),
			c.p["InstanceId"] != "" && g.instanceID != c.p["InstanceId"],
			c.p["Name"] != "" && g.name != c.p["Name"],
			!tagsMatch(g.tags, filter):
			continue
		}
		list = append(list, g)
	}
	page, info := paginate(list, func(g *groupState) int64 { return g.seq }, true, pg)
	resp := groupsResponse{NextToken: info.NextToken}
	resp.SnapshotGroups.SnapshotGroup = []groupJSON{}
	for _, g := range page {
		resp.SnapshotGroups.SnapshotGroup = append(resp.SnapshotGroups.SnapshotGroup, e.groupJSON(g, c.now))
	}
	return resp, nil
}

func (e *Emulator) groupJSON(g *groupState, now time.Time) groupJSON {
	status := e.groupStatus(g, now)
	out := groupJSON{
		SnapshotGroupID: g.id, Name: g.name, Description: g.description,
		// ProgressStatus's values are undocumented; it mirrors Status here.
		Status: status, ProgressStatus: status,
		CreationTime: g.created.UTC().Format(snapshotTimeFormat), InstanceID: g.instanceID,
		Tags:      groupTagsJSON{Tag: []groupTagJSON{}},
		Snapshots: groupMembersJSON{Snapshot: []groupMemberJSON{}},
	}
	for _, k := range sortedKeys(g.tags) {
		out.Tags.Tag = append(out.Tags.Tag, groupTagJSON{Key: k, Value: g.tags[k]})
	}
	for _, id := range g.members {
		s, ok := e.snapshots[id]
		if !ok {
			continue
		}
		out.Snapshots.Snapshot = append(out.Snapshots.Snapshot, groupMemberJSON{
			SnapshotID: s.id, SourceDiskID: s.diskID, SourceDiskType: s.sourceType,
			Progress: strconv.Itoa(s.progressAt(now).percent) + "%", Available: s.available(now),
			InstantAccess: isESSDFamily(s.sourceCategory),
		})
	}
	return out
}

func (e *Emulator) deleteSnapshotGroup(c *callCtx) (any, *apiError) {
	id := c.p["SnapshotGroupId"]
	g, ok := e.groups[id]
	if !ok {
		return nil, errGroupNotFound
	}
	if c.dryRun {
		return nil, nil
	}
	resp := deleteGroupResponse{OperationProgressSet: opProgressSet{OperationProgress: []opProgress{}}}
	for _, sid := range slices.Clone(g.members) {
		op := opProgress{OperationStatus: "Success", RelatedItemSet: relatedItemSet{RelatedItem: []relatedItem{{Name: "SnapshotId", Value: sid}}}}
		if s := e.snapshots[sid]; s != nil && s.createdImage {
			op.OperationStatus, op.ErrorCode, op.ErrorMsg = "Failed", errCreatedImage.Code, errCreatedImage.Message
		} else {
			e.removeSnapshot(sid)
		}
		resp.OperationProgressSet.OperationProgress = append(resp.OperationProgressSet.OperationProgress, op)
	}
	delete(e.groups, id)
	e.log.Info("snapshot group deleted", "group", id)
	return resp, nil
}

// cmpDesc orders sequence numbers newest first.
func cmpDesc(a, b int64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}
