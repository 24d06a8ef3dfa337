package ecsemu

import (
	"maps"
	"slices"
	"strconv"
	"time"
)

// snapshotTimeFormat is the snapshot and group CreationTime format.
const snapshotTimeFormat = "2006-01-02T15:04:05Z"

type (
	createSnapshotResponse struct {
		SnapshotID string `json:"SnapshotId"`
	}
	snapshotsResponse struct {
		pageInfo                 // TotalCount, PageNumber, PageSize, NextToken
		Snapshots snapshotsOuter `json:"Snapshots"`
	}
	snapshotsOuter struct {
		Snapshot []snapshotJSON `json:"Snapshot"`
	}
	// snapshotJSON mirrors DescribeSnapshots: Progress is a string ("45%"),
	// SourceDiskSize a string of GiB, RemainTime seconds as a number.
	snapshotJSON struct {
		SnapshotID        string       `json:"SnapshotId"`
		SnapshotName      string       `json:"SnapshotName"`
		Description       string       `json:"Description"`
		Status            string       `json:"Status"`
		Progress          string       `json:"Progress"`
		RemainTime        int          `json:"RemainTime"`
		SourceDiskID      string       `json:"SourceDiskId"`
		SourceDiskSize    string       `json:"SourceDiskSize"`
		SourceDiskType    string       `json:"SourceDiskType"`
		SourceStorageType string       `json:"SourceStorageType"`
		CreationTime      string       `json:"CreationTime"`
		LastModifiedTime  string       `json:"LastModifiedTime"`
		RetentionDays     int          `json:"RetentionDays"`
		Available         bool         `json:"Available"`
		InstantAccess     bool         `json:"InstantAccess"`
		Encrypted         bool         `json:"Encrypted"`
		Usage             string       `json:"Usage"`
		SnapshotType      string       `json:"SnapshotType"`
		Category          string       `json:"Category"`
		RegionID          string       `json:"RegionId"`
		Tags              diskTagsJSON `json:"Tags"`
	}
)

var snapshotsPaging = pageStyle{minMax: 1, maxMax: 100, defMax: 10, pages: true, maxPageSize: 100}

// checkSnapshotable applies the rules that refuse a new snapshot of d.
// Callers hold e.mu.
func (e *Emulator) checkSnapshotable(d *diskState, now time.Time) *apiError {
	if isLocalDisk(d.spec.Category) {
		return errDiskTypeNotSupported
	}
	if in := e.instanceByID[d.attachedTo()]; in != nil {
		switch {
		case in.hasLock("security"):
			return errInstanceLocked
		case in.spec.NeverStarted,
			in.status != "Running" && in.status != "Stopped":
			return errIncorrectInstance
		}
	}
	switch d.status {
	case "In_use":
	case "Available":
		if d.spec.NeverAttached {
			return errIncorrectDiskStatus
		}
	default:
		return errIncorrectDiskStatus
	}
	if e.inProgress(d.spec.ID, now) >= concurrentSnapshotLimit(d.spec.Category) {
		return errCreatingSnapshot
	}
	if e.manualCount(d.spec.ID) >= e.sc.Quota.ManualSnapshotsPerDisk {
		return errQuotaSnapshot
	}
	return nil
}

// newSnapshot creates a manual snapshot of d now. Callers hold e.mu.
func (e *Emulator) newSnapshot(d *diskState, now time.Time, name, desc string, tags []tag, retention int, groupID string) *snapshotState {
	s := &snapshotState{
		id: e.newID("s-"), diskID: d.spec.ID, name: name, description: desc,
		tags: map[string]string{}, created: now, modified: now,
		duration: e.snapshotDuration(d.spec.SizeGiB), typ: snapTypeUser,
		retentionDays: retention, groupID: groupID, seq: e.nextSeq(),
		sourceSizeGiB: d.spec.SizeGiB, sourceType: d.spec.Type, sourceCategory: d.spec.Category,
		instanceID: d.attachedTo(),
	}
	for _, t := range tags {
		s.tags[t.Key] = t.Value
	}
	e.snapshots[s.id] = s
	e.log.Info("snapshot created", "snapshot", s.id, "disk", d.spec.ID, "group", groupID, "duration", s.duration)
	return s
}

// snapshotParams reads and validates name, description and retention.
func snapshotParams(p params) (name, desc string, retention int, aerr *apiError) {
	name, desc = p["SnapshotName"], p["Description"]
	if !validName(name, false) {
		return "", "", 0, errSnapshotName
	}
	if !validDescription(desc) {
		return "", "", 0, errDescription
	}
	retention, aerr = retentionDays(p)
	return name, desc, retention, aerr
}

func (e *Emulator) createSnapshot(c *callCtx) (any, *apiError) {
	diskID := c.p["DiskId"]
	name, desc, retention, aerr := snapshotParams(c.p)
	if aerr != nil {
		return nil, aerr
	}
	tags, aerr := tagsFor(c.p, true)
	if aerr != nil {
		return nil, aerr
	}
	if _, aerr := clientToken(c.p); aerr != nil {
		return nil, aerr
	}
	d, ok := e.diskByID[diskID]
	if !ok {
		return nil, errDiskNotFound
	}
	if aerr := e.checkSnapshotable(d, c.now); aerr != nil {
		return nil, aerr
	}
	if c.dryRun {
		return nil, nil
	}
	s := e.newSnapshot(d, c.now, name, desc, tags, retention, "")
	if aerr := e.captureBytes([]*snapshotState{s}); aerr != nil {
		return nil, aerr
	}
	return createSnapshotResponse{SnapshotID: s.id}, nil
}

func (e *Emulator) describeSnapshots(c *callCtx) (any, *apiError) {
	ids, aerr := idList(c.p, "SnapshotIds", 100)
	if aerr != nil {
		return nil, aerr
	}
	status, aerr := oneOf(c.p, "Status", "all", snapProgressing, snapAccomplished, snapFailed, "all")
	if aerr != nil {
		return nil, aerr
	}
	typ, aerr := oneOf(c.p, "SnapshotType", "all", snapTypeAuto, snapTypeUser, "all")
	if aerr != nil {
		return nil, aerr
	}
	srcType, aerr := oneOf(c.p, "SourceDiskType", "", "system", "data")
	if aerr != nil {
		return nil, aerr
	}
	filter, aerr := tagsFor(c.p, false)
	if aerr != nil {
		return nil, aerr
	}
	pg, aerr := parsePager(c.p, snapshotsPaging)
	if aerr != nil {
		return nil, aerr
	}
	var list []*snapshotState
	for _, s := range e.sortedSnapshots() {
		switch {
		case ids != nil && !slices.Contains(ids, s.id),
			c.p["DiskId"] != "" && s.diskID != c.p["DiskId"],
			c.p["InstanceId"] != "" && s.instanceID != c.p["InstanceId"],
			status != "all" && s.progressAt(c.now).status != status,
			typ != "all" && s.typ != typ,
			srcType != "" && s.sourceType != srcType,
			c.p["SnapshotName"] != "" && s.name != c.p["SnapshotName"],
			!tagsMatch(s.tags, filter):
			continue
		}
		list = append(list, s)
	}
	page, info := paginate(list, func(s *snapshotState) int64 { return s.seq }, true, pg)
	resp := snapshotsResponse{pageInfo: info}
	resp.Snapshots.Snapshot = []snapshotJSON{}
	for _, s := range page {
		resp.Snapshots.Snapshot = append(resp.Snapshots.Snapshot, e.snapshotJSON(s, c.now))
	}
	return resp, nil
}

// sortedSnapshots lists snapshots newest first (the API's order).
func (e *Emulator) sortedSnapshots() []*snapshotState {
	list := slices.Collect(maps.Values(e.snapshots))
	slices.SortFunc(list, func(a, b *snapshotState) int { return cmpDesc(a.seq, b.seq) })
	return list
}

func (e *Emulator) snapshotJSON(s *snapshotState, now time.Time) snapshotJSON {
	pr := s.progressAt(now)
	return snapshotJSON{
		SnapshotID: s.id, SnapshotName: s.name, Description: s.description,
		Status: pr.status, Progress: strconv.Itoa(pr.percent) + "%", RemainTime: pr.remainSecs,
		SourceDiskID: s.diskID, SourceDiskSize: strconv.Itoa(s.sourceSizeGiB), SourceDiskType: s.sourceType,
		SourceStorageType: "disk", CreationTime: s.created.UTC().Format(snapshotTimeFormat),
		LastModifiedTime: s.modified.UTC().Format(snapshotTimeFormat), RetentionDays: s.retentionDays,
		Available: s.available(now), InstantAccess: isESSDFamily(s.sourceCategory), Usage: "none",
		SnapshotType: s.typ, Category: "standard", RegionID: e.sc.Region, Tags: tagKVList(s.tags),
	}
}

func (e *Emulator) deleteSnapshot(c *callCtx) (any, *apiError) {
	id := c.p["SnapshotId"]
	force, aerr := c.p.bool("Force")
	if aerr != nil {
		return nil, aerr
	}
	s, ok := e.snapshots[id]
	if !ok {
		if e.sc.Behavior.DeleteUnknownSnapshot == DeleteUnknownIgnore {
			return struct{}{}, nil
		}
		return nil, errSnapshotNotFound
	}
	if s.createdImage {
		return nil, errCreatedImage
	}
	if s.createdDisk && !force {
		return nil, errCreatedDisk
	}
	if c.dryRun {
		return nil, nil
	}
	e.removeSnapshot(id)
	e.log.Info("snapshot deleted", "snapshot", id)
	return struct{}{}, nil
}

func (e *Emulator) modifySnapshotAttribute(c *callCtx) (any, *apiError) {
	id := c.p["SnapshotId"]
	name, desc, retention, aerr := snapshotParams(c.p)
	if aerr != nil {
		return nil, aerr
	}
	s, ok := e.snapshots[id]
	if !ok {
		return nil, errSnapshotNotFound
	}
	if c.dryRun {
		return nil, nil
	}
	if c.p.has("SnapshotName") {
		s.name = name
	}
	if c.p.has("Description") {
		s.description = desc
	}
	if retention > 0 {
		s.retentionDays = retention
	}
	s.modified = c.now
	return struct{}{}, nil
}
