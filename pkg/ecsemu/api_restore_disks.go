package ecsemu

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Errors of the disk restore actions, with the codes and statuses of the
// 2014-05-26 API metadata (reference/restore.md §1).
var (
	errZoneInstanceConflict = newErr(http.StatusForbidden, "InvalidParam.ZoneIdAndInstanceId.Conflict", "ZoneId and InstanceId cannot be specified at the same time.")
	errZoneNotFound         = newErr(http.StatusNotFound, "InvalidZoneId.NotFound", "The specified ZoneId does not exist.")
	errCreateDiskNeeds      = newErr(http.StatusBadRequest, "MissingParameter", "The input parameter \"SnapshotId\" or \"Size\" that is mandatory for processing this request is not supplied.")
	errDiskCategory         = newErr(http.StatusBadRequest, "InvalidDiskCategory.ValueNotSupported", "The specified disk category is not supported.")
	errDiskSize             = newErr(http.StatusBadRequest, "InvalidSize.ValueNotSupported", "The specified parameter size is not valid.")
	errDiskSizeTooSmall     = newErr(http.StatusForbidden, "InvalidDiskSize.TooSmall", "Specified disk size is less than the size of snapshot.")
	errPerformanceLevel     = newErr(http.StatusBadRequest, "InvalidPerformanceLevel.Malformed", "The specified PerformanceLevel is not valid.")
	errLevelNotMatch        = newErr(http.StatusForbidden, "OperationDenied.PerformanceLevelNotMatch", "The specified PerformanceLevel does not match the disk size.")
	errSnapshotNotReady     = newErr(http.StatusForbidden, "InvalidSnapshot.NotReady", "The specified snapshot creation is not completed yet.")
	errSnapshotIDNotReady   = newErr(http.StatusForbidden, "InvalidSnapshotId.NotReady", "The specified snapshot is not ready.")
	errFromSnapshotLocal    = newErr(http.StatusForbidden, "InvalidOperation.CreateFromSnapshotUnsupported", "Elastic ephemeral disks cannot be created from a snapshot.")
	errEncryptedMismatch    = newErr(http.StatusBadRequest, "InvalidEncrypted.NotMatchSnapshot", "The Encrypted parameter does not match the snapshot.")
	errDiskName             = newErr(http.StatusBadRequest, "InvalidDiskName.Malformed", "Specified disk name is not valid.")
	errSubscriptionDisk     = newErr(http.StatusBadRequest, "InvalidParameter", "CreateDisk with InstanceId (a subscription disk) is not emulated; pass ZoneId.")
	errDiskInUse            = newErr(http.StatusNotFound, "InvalidDisk.InUse", "The specified disk is in use.")
	errAttachInstanceStatus = newErr(http.StatusBadRequest, "IncorrectInstanceStatus", "The current status of the resource does not support this operation.")
	errNotInSameZoneAttach  = newErr(http.StatusForbidden, "ResourcesNotInSameZone", "The specified instance and disk are not in the same zone.")
	errDiskLimit            = newErr(http.StatusForbidden, "InstanceDiskLimitExceeded", "The amount of the disk on instance in question reach its limits.")
	errDiskNotPortable      = newErr(http.StatusForbidden, "DiskNotPortable", "The specified disk is not a portable disk.")
	errBootableNotEmulated  = newErr(http.StatusBadRequest, "InvalidParameter", "AttachDisk with Bootable=true is not emulated.")
	errAlreadyDetached      = newErr(http.StatusNotFound, "InvalidDisk.AlreadyDetached", "The specified disk has already been detached.")
	errDependencyViolation  = newErr(http.StatusForbidden, "DependencyViolation", "The specified disk is not attached on the specified instance.")
	errDiskStillAttached    = newErr(http.StatusForbidden, "DiskStillAttached", "The specified disk is still attached to an instance.")
	errDiskTypeViolation    = newErr(http.StatusForbidden, "DiskTypeViolation", "A system disk cannot be deleted.")
	errDiskInitializing     = newErr(http.StatusForbidden, "IncorrectDiskStatus.Initializing", "The specified disk is being initialized.")
	errDiskCreatingSnapshot = newErr(http.StatusForbidden, "DiskCreatingSnapshot", "A snapshot of the specified disk is being created.")
	errResetMismatch        = newErr(http.StatusForbidden, "InvalidParameter.Mismatch", "The specified snapshot is not created from the specified disk.")
	errHasUnfinished        = newErr(http.StatusForbidden, "IncorrectDiskStatus.HasUnfinishedSnapshot", "The current disk has unfinished snapshot.")
)

// errLastTokenProcessing is CreateDisk's answer to a repeat of a call
// still in flight (its error table lists it where others have
// IdempotentProcessing).
var errLastTokenProcessing = newErr(http.StatusForbidden, "LastTokenProcessing", "The last token request is processing.")

// inFlightCode gives an action's own code for a ClientToken still in flight.
func inFlightCode(action string, aerr *apiError) *apiError {
	if aerr == errIdempotentProcessing && action == "CreateDisk" {
		return errLastTokenProcessing
	}
	return aerr
}

// sizeRange is the Size range (GiB) of a category and performance level.
func sizeRange(category, level string) (lo, hi int) {
	switch category {
	case "cloud":
		return 5, 2000
	case "cloud_efficiency", "cloud_ssd":
		return 20, 32768
	case "cloud_essd":
		switch level {
		case "PL0":
			return 1, 32768
		case "PL2":
			return 461, 32768
		case "PL3":
			return 1261, 32768
		}
		return 20, 32768
	case "cloud_essd_entry":
		return 10, 32768
	case "elastic_ephemeral_disk_standard", "elastic_ephemeral_disk_premium":
		return 64, 8192
	}
	return 1, 32768 // cloud_auto
}

// createDiskCategories are the DiskCategory values CreateDisk takes.
var createDiskCategories = []string{"cloud", "cloud_efficiency", "cloud_ssd", "cloud_essd", "cloud_auto",
	"cloud_essd_entry", "elastic_ephemeral_disk_standard", "elastic_ephemeral_disk_premium"}

type createDiskResponse struct {
	DiskID  string `json:"DiskId"`
	OrderID string `json:"OrderId"`
}

// knownZone reports whether an instance of the account lives in zone.
func (e *Emulator) knownZone(zone string) bool {
	for _, in := range e.instances {
		if in.spec.ZoneID == zone {
			return true
		}
	}
	return false
}

func (e *Emulator) createDisk(c *callCtx) (any, *apiError) {
	p := c.p
	if p["InstanceId"] != "" && p["ZoneId"] != "" {
		return nil, errZoneInstanceConflict
	}
	if p["InstanceId"] != "" {
		return nil, errSubscriptionDisk
	}
	if p["ZoneId"] == "" {
		return nil, errMissingParameter("ZoneId")
	}
	size, hasSize, aerr := intParam(p, "Size")
	if aerr != nil {
		return nil, errDiskSize
	}
	if p["SnapshotId"] == "" && !hasSize {
		return nil, errCreateDiskNeeds
	}
	category, aerr := oneOf(p, "DiskCategory", "cloud", createDiskCategories...)
	if aerr != nil {
		return nil, errDiskCategory
	}
	level := ""
	if category == "cloud_essd" {
		if level, aerr = oneOf(p, "PerformanceLevel", "PL1", "PL0", "PL1", "PL2", "PL3"); aerr != nil {
			return nil, errPerformanceLevel
		}
	}
	if !validName(p["DiskName"], true) {
		return nil, errDiskName
	}
	tags, aerr := createCommon(p)
	if aerr != nil {
		return nil, aerr
	}
	encrypted, aerr := p.bool("Encrypted")
	if aerr != nil {
		return nil, aerr
	}
	if !e.knownZone(p["ZoneId"]) {
		return nil, errZoneNotFound
	}
	var snap *snapshotState
	if id := p["SnapshotId"]; id != "" {
		s, ok := e.snapshots[id]
		if !ok {
			return nil, errSnapshotNotFound
		}
		if strings.HasPrefix(category, "elastic_ephemeral") {
			return nil, errFromSnapshotLocal
		}
		if !s.available(c.now) {
			return nil, errSnapshotNotReady
		}
		if src := e.diskByID[s.diskID]; src != nil && src.spec.Encrypted != encrypted && p["Encrypted"] != "" {
			return nil, errEncryptedMismatch
		}
		if !hasSize {
			size = s.sourceSizeGiB
		}
		if size < s.sourceSizeGiB {
			return nil, errDiskSizeTooSmall
		}
		snap = s
	}
	lo, hi := sizeRange(category, level)
	if size < 1 || size > 65536 {
		return nil, errDiskSize
	}
	if size < lo || size > hi {
		if category == "cloud_essd" && (level == "PL2" || level == "PL3") && size >= 20 {
			return nil, errLevelNotMatch
		}
		return nil, errDiskSize
	}
	if c.dryRun {
		return nil, nil
	}
	id := e.newID("d-")
	spec := Disk{
		ID: id, Serial: strings.TrimPrefix(id, "d-"), Name: p["DiskName"], Category: category, Type: "data",
		SizeGiB: size, PerformanceLevel: level, ZoneID: p["ZoneId"], Encrypted: encrypted, Portable: true,
		Detached: true, Status: "Creating",
	}
	d := &diskState{spec: spec, status: "Creating", tags: map[string]string{}, seq: e.nextSeq(), created: c.now.Truncate(time.Minute)}
	for _, t := range tags {
		d.tags[t.Key] = t.Value
	}
	e.disks = append(e.disks, d)
	e.diskByID[id] = d
	e.restore.init()
	srcID := ""
	if snap != nil {
		srcID = snap.id
		snap.createdDisk = true
		e.restore.source[id] = srcID
	}
	e.schedule(id, "Available", c.now.Add(e.sc.Restore.diskCreate()), func() {
		if h := e.restore.hooks.Created; h != nil {
			h(id, d.spec.Serial, srcID)
		}
	})
	e.log.Info("disk created", "disk", id, "snapshot", srcID, "zone", spec.ZoneID, "category", category, "size_gib", size)
	return createDiskResponse{DiskID: id, OrderID: ""}, nil
}

// attachedCount counts the disks attached (or attaching) to an instance.
func (e *Emulator) attachedCount(instanceID string) int {
	n := 0
	for _, d := range e.disks {
		if d.attachedTo() == instanceID {
			n++
		}
	}
	return n
}

// nextDevice returns the first free /dev/xvd letter on an instance.
func (e *Emulator) nextDevice(instanceID string) string {
	used := map[string]bool{}
	for _, d := range e.disks {
		if d.attachedTo() == instanceID {
			used[d.device] = true
		}
	}
	for i := range 26 {
		dev := "/dev/xvd" + string(rune('a'+i))
		if !used[dev] {
			return dev
		}
	}
	return ""
}

// diskAndInstance looks up the DiskId and InstanceId of a call.
func (e *Emulator) diskAndInstance(p params) (*diskState, *instanceState, *apiError) {
	for _, name := range []string{"InstanceId", "DiskId"} {
		if p[name] == "" {
			return nil, nil, errMissingParameter(name)
		}
	}
	d, ok := e.diskByID[p["DiskId"]]
	if !ok {
		return nil, nil, errDiskNotFound
	}
	in, ok := e.instanceByID[p["InstanceId"]]
	if !ok {
		return nil, nil, errInstanceNotFound
	}
	if in.hasLock("security") {
		return nil, nil, errInstanceLocked
	}
	return d, in, nil
}

func (e *Emulator) attachDisk(c *callCtx) (any, *apiError) {
	d, in, aerr := e.diskAndInstance(c.p)
	if aerr != nil {
		return nil, aerr
	}
	boot, aerr := c.p.bool("Bootable")
	if aerr != nil {
		return nil, aerr
	}
	if boot {
		return nil, errBootableNotEmulated
	}
	deleteWith, aerr := c.p.bool("DeleteWithInstance")
	if aerr != nil {
		return nil, aerr
	}
	switch {
	case d.status == "In_use":
		return nil, errDiskInUse
	case d.status != "Available":
		return nil, errIncorrectDiskStatus
	case !d.spec.Portable:
		return nil, errDiskNotPortable
	case in.status != "Running" && in.status != "Stopped":
		return nil, errAttachInstanceStatus
	case d.spec.ZoneID != in.spec.ZoneID:
		return nil, errNotInSameZoneAttach
	case e.attachedCount(in.spec.ID) >= e.sc.Restore.disksPerInstance():
		return nil, errDiskLimit
	}
	d.spec.Detached = false
	d.spec.NeverAttached = false
	d.spec.DeleteWithInstance = deleteWith
	d.instance = in.spec.ID
	d.device = e.nextDevice(in.spec.ID)
	d.status = "Attaching"
	id, serial, inst := d.spec.ID, d.spec.Serial, in.spec.ID
	e.schedule(id, "In_use", c.now.Add(e.sc.Restore.diskAttach()), func() {
		if h := e.restore.hooks.Attached; h != nil {
			h(id, serial, inst)
		}
	})
	e.log.Info("disk attaching", "disk", id, "instance", inst)
	return struct{}{}, nil
}

func (e *Emulator) detachDisk(c *callCtx) (any, *apiError) {
	d, in, aerr := e.diskAndInstance(c.p)
	if aerr != nil {
		return nil, aerr
	}
	switch {
	case d.attachedTo() == "" || d.status == "Available":
		return nil, errAlreadyDetached
	case d.attachedTo() != in.spec.ID:
		return nil, errDependencyViolation
	case d.status != "In_use":
		return nil, errIncorrectDiskStatus
	case d.spec.Type == "system" && in.status != "Stopped":
		return nil, errIncorrectInstance
	case in.status != "Running" && in.status != "Stopped":
		return nil, errIncorrectInstance
	}
	d.status = "Detaching"
	id, serial, inst := d.spec.ID, d.spec.Serial, in.spec.ID
	e.schedule(id, "Available", c.now.Add(e.sc.Restore.diskDetach()), func() {
		d.spec.Detached = true
		d.device = ""
		if h := e.restore.hooks.Detached; h != nil {
			h(id, serial, inst)
		}
	})
	e.log.Info("disk detaching", "disk", id, "instance", inst)
	return struct{}{}, nil
}

func (e *Emulator) deleteDisk(c *callCtx) (any, *apiError) {
	id := c.p["DiskId"]
	if id == "" {
		return nil, errMissingParameter("DiskId")
	}
	d, ok := e.diskByID[id]
	if !ok {
		// The metadata says both "ignored" and 404; the 404 is what
		// callers must tolerate, so the emulator answers it.
		return nil, errDiskNotFound
	}
	switch {
	case d.spec.Type == "system":
		return nil, errDiskTypeViolation
	case d.status == "Creating":
		return nil, errDiskInitializing
	case d.status == "In_use" || d.status == "Attaching" || d.status == "Detaching":
		return nil, errDiskStillAttached
	case d.status != "Available":
		return nil, errIncorrectDiskStatus
	case e.inProgress(id, c.now) > 0:
		return nil, errDiskCreatingSnapshot
	}
	for i, x := range e.disks {
		if x == d {
			e.disks = append(e.disks[:i], e.disks[i+1:]...)
			break
		}
	}
	delete(e.diskByID, id)
	delete(e.restore.pending, id)
	// Manual snapshots of the disk are kept (DeleteDisk's documentation).
	if h := e.restore.hooks.Deleted; h != nil {
		h(id)
	}
	e.log.Info("disk deleted", "disk", id)
	return struct{}{}, nil
}

// checkReset applies ResetDisk's preconditions to one disk and snapshot.
func (e *Emulator) checkReset(diskID, snapID string, now time.Time) (*diskState, *snapshotState, *apiError) {
	d, ok := e.diskByID[diskID]
	if !ok {
		return nil, nil, errDiskNotFound
	}
	s, ok := e.snapshots[snapID]
	if !ok {
		return nil, nil, errSnapshotNotFound
	}
	if in := e.instanceByID[d.attachedTo()]; in != nil {
		if in.hasLock("security") {
			return nil, nil, errInstanceLocked
		}
		if in.status != "Stopped" {
			return nil, nil, errIncorrectInstance
		}
	}
	switch {
	case d.status != "In_use" && d.status != "Available":
		return nil, nil, errIncorrectDiskStatus
	case s.diskID != diskID:
		return nil, nil, errResetMismatch
	case !s.available(now):
		return nil, nil, errSnapshotIDNotReady
	case e.inProgress(diskID, now) > 0:
		return nil, nil, errHasUnfinished
	}
	return d, s, nil
}

// reset rewinds a disk to a snapshot: ReIniting for a while, then back.
func (e *Emulator) reset(d *diskState, s *snapshotState, now time.Time) {
	e.restore.init()
	e.restore.resets[d.spec.ID] = append(e.restore.resets[d.spec.ID], s.id)
	back := d.status
	d.status = "ReIniting"
	e.schedule(d.spec.ID, back, now.Add(e.sc.Restore.diskReset()), nil)
	if h := e.restore.hooks.Reset; h != nil {
		h(d.spec.ID, s.id)
	}
	e.log.Info("disk reset", "disk", d.spec.ID, "snapshot", s.id)
}

func (e *Emulator) resetDisk(c *callCtx) (any, *apiError) {
	for _, name := range []string{"DiskId", "SnapshotId"} {
		if c.p[name] == "" {
			return nil, errMissingParameter(name)
		}
	}
	d, s, aerr := e.checkReset(c.p["DiskId"], c.p["SnapshotId"], c.now)
	if aerr != nil {
		return nil, aerr
	}
	if c.dryRun {
		return nil, nil
	}
	e.reset(d, s, c.now)
	return struct{}{}, nil
}

// resetDisksResponse has DeleteSnapshotGroup's per-item result shape.
type resetDisksResponse struct {
	OperationProgressSet opProgressSet `json:"OperationProgressSet"`
}

// maxResetDisks is Disk.N's maxItems in the API schema.
const maxResetDisks = 16

// resetDisks resets several disks. Each disk gets its own result: whether
// the real call is all-or-nothing is unconfirmed, and its per-disk result
// list says it need not be, so callers must check every entry.
func (e *Emulator) resetDisks(c *callCtx) (any, *apiError) {
	type pair struct{ disk, snap string }
	var pairs []pair
	for n := 1; ; n++ {
		disk, snap := c.p["Disk."+strconv.Itoa(n)+".DiskId"], c.p["Disk."+strconv.Itoa(n)+".SnapshotId"]
		if disk == "" && snap == "" {
			break
		}
		if disk == "" || snap == "" {
			return nil, errMissingParameter(fmt.Sprintf("Disk.%d.DiskId/SnapshotId", n))
		}
		pairs = append(pairs, pair{disk, snap})
	}
	switch {
	case len(pairs) == 0:
		return nil, errMissingParameter("Disk.1.DiskId")
	case len(pairs) > maxResetDisks:
		return nil, errInvalidParameter("Disk.N")
	}
	resp := resetDisksResponse{}
	resp.OperationProgressSet.OperationProgress = []opProgress{}
	for _, pr := range pairs {
		op := opProgress{OperationStatus: "Success", RelatedItemSet: relatedItemSet{RelatedItem: []relatedItem{
			{Name: "DiskId", Value: pr.disk}, {Name: "SnapshotId", Value: pr.snap}}}}
		d, s, aerr := e.checkReset(pr.disk, pr.snap, c.now)
		switch {
		case aerr != nil:
			op.OperationStatus, op.ErrorCode, op.ErrorMsg = "Failed", aerr.Code, aerr.Message
		case !c.dryRun:
			e.reset(d, s, c.now)
		}
		resp.OperationProgressSet.OperationProgress = append(resp.OperationProgressSet.OperationProgress, op)
	}
	return resp, nil
}
