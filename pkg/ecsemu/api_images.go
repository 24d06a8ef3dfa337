package ecsemu

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Custom images: CreateImage from a system-disk snapshot or from a set of
// snapshots (DiskDeviceMapping), and DescribeImages. Codes and messages
// are those of the CreateImage API reference's error table.

var (
	errImageNeeds = newErr(http.StatusBadRequest, "MissingParameter",
		"The input parameter SnapshotId or InstanceId or DiskDeviceMapping that is mandatory for processing this request is not supplied.")
	errImageName      = newErr(http.StatusBadRequest, "InvalidImageName.Malformed", "The specified Image name is wrongly formed.")
	errImageDuplicate = newErr(http.StatusBadRequest, "InvalidImageName.Duplicated", "The specified Image name has already bean used.")
	errImageNotReady  = newErr(http.StatusForbidden, "InvalidSnapshotId.NotReady",
		"The current status of the DiskDeviceMapping.n.SnapshotId or SnapshotId does not support this operation.")
	errImageNotSystem    = newErr(http.StatusForbidden, "OperationDenied", "The specified snapshot is not from system disk.")
	errImageNoSystem     = newErr(http.StatusBadRequest, "OperationDenied", "The specified parameter DiskDeviceMapping.n.SnapshotId does not contain system disk snapshot.")
	errImageTwoSystems   = newErr(http.StatusBadRequest, "OperationDenied", "The specified parameter DiskDeviceMapping.n.SnapshotId contains two or more system disk snapshots.")
	errImageDevice       = newErr(http.StatusBadRequest, "InvalidDevice.Malformed", "The specified parameter DiskDeviceMapping.n.Device is not valid.")
	errImageDeviceInUse  = newErr(http.StatusBadRequest, "InvalidDevice.InUse", "The specified parameter DiskDeviceMapping.n.Device has been occupied.")
	errImageSize         = newErr(http.StatusBadRequest, "InvalidSize.ValueNotSupported", "The specified parameter DiskDeviceMapping.n.Size beyond the permitted range.")
	errImageDiskType     = newErr(http.StatusBadRequest, "InvalidDiskType.ValueNotSupported", "The specified disk type is not supported.")
	errImageFromInstance = newErr(http.StatusBadRequest, "InvalidParameter", "CreateImage with InstanceId is not emulated; pass SnapshotId or DiskDeviceMapping.")
)

// imageState is an emulated custom image.
type imageState struct {
	id, name, description string
	status                string // Creating, Available
	created               time.Time
	tags                  map[string]string
	mappings              []imageMapping
	seq                   int64
}

type imageMapping struct {
	snapshotID string
	sizeGiB    int
	diskType   string // system|data
	device     string
}

type createImageResponse struct {
	ImageID string `json:"ImageId"`
}

// mappingDevices are the devices of an image's disks: the system disk is
// /dev/xvda, data disks /dev/xvdb to /dev/xvdz.
func validImageDevice(dev string, system bool) bool {
	if system {
		return dev == "/dev/xvda"
	}
	return len(dev) == len("/dev/xvdb") && strings.HasPrefix(dev, "/dev/xvd") && dev[8] >= 'b' && dev[8] <= 'z'
}

func (e *Emulator) createImage(c *callCtx) (any, *apiError) {
	p := c.p
	name := p["ImageName"]
	if !validName(name, true) {
		return nil, errImageName
	}
	tags, aerr := createCommon(p)
	if aerr != nil {
		return nil, aerr
	}
	// Priority when several are given: InstanceId > DiskDeviceMapping > SnapshotId.
	var mappings []imageMapping
	switch {
	case p["InstanceId"] != "":
		return nil, errImageFromInstance
	case p["DiskDeviceMapping.1.SnapshotId"] != "" || p["DiskDeviceMapping.1.DiskType"] != "" || p["DiskDeviceMapping.1.Size"] != "":
		mappings, aerr = e.imageMappings(p, c.now)
	case p["SnapshotId"] != "":
		var s *snapshotState
		if s, aerr = e.imageSnapshot(p["SnapshotId"], c.now); aerr == nil {
			if s.sourceType != "system" {
				return nil, errImageNotSystem
			}
			mappings = []imageMapping{{snapshotID: s.id, sizeGiB: s.sourceSizeGiB, diskType: "system", device: "/dev/xvda"}}
		}
	default:
		return nil, errImageNeeds
	}
	if aerr != nil {
		return nil, aerr
	}
	e.restore.init()
	if name != "" {
		for _, im := range e.restore.images {
			if im.name == name {
				return nil, errImageDuplicate
			}
		}
	}
	if c.dryRun {
		return nil, nil
	}
	im := &imageState{id: e.newID("m-"), name: name, description: p["Description"], status: "Creating",
		created: c.now, tags: map[string]string{}, mappings: mappings, seq: e.nextSeq()}
	for _, t := range tags {
		im.tags[t.Key] = t.Value
	}
	for _, m := range mappings {
		if s := e.snapshots[m.snapshotID]; s != nil {
			s.createdImage = true
		}
	}
	e.restore.images[im.id] = im
	e.schedule(im.id, "Available", c.now.Add(e.sc.Restore.imageCreate()), nil)
	e.log.Info("image creating", "image", im.id, "disks", len(mappings))
	return createImageResponse{ImageID: im.id}, nil
}

// imageSnapshot finds a snapshot an image can be made from: it must exist
// and be finished (an unfinished snapshot cannot make an image, instant
// access or not).
func (e *Emulator) imageSnapshot(id string, now time.Time) (*snapshotState, *apiError) {
	s, ok := e.snapshots[id]
	if !ok {
		return nil, errSnapshotNotFound
	}
	if s.progressAt(now).status != snapAccomplished {
		return nil, errImageNotReady
	}
	return s, nil
}

func (e *Emulator) imageMappings(p params, now time.Time) ([]imageMapping, *apiError) {
	var out []imageMapping
	systems := 0
	used := map[string]bool{}
	for n := 1; ; n++ {
		pre := "DiskDeviceMapping." + strconv.Itoa(n) + "."
		snap, typ, sizeStr, dev := p[pre+"SnapshotId"], p[pre+"DiskType"], p[pre+"Size"], p[pre+"Device"]
		if snap == "" && typ == "" && sizeStr == "" && dev == "" {
			break
		}
		typ, aerr := oneOf(params{"DiskType": typ}, "DiskType", "data", "system", "data")
		if aerr != nil {
			return nil, errImageDiskType
		}
		m := imageMapping{snapshotID: snap, diskType: typ, device: dev}
		if snap != "" {
			s, aerr := e.imageSnapshot(snap, now)
			if aerr != nil {
				return nil, aerr
			}
			m.sizeGiB = s.sourceSizeGiB
		}
		if sizeStr != "" {
			size, err := strconv.Atoi(sizeStr)
			if err != nil || size < m.sizeGiB || size < 1 || size > 32768 {
				return nil, errImageSize
			}
			m.sizeGiB = size
		}
		if m.sizeGiB == 0 {
			return nil, errImageSize
		}
		if typ == "system" {
			systems++
			if m.device == "" {
				m.device = "/dev/xvda"
			}
		}
		if m.device != "" {
			if !validImageDevice(m.device, typ == "system") {
				return nil, errImageDevice
			}
			if used[m.device] {
				return nil, errImageDeviceInUse
			}
			used[m.device] = true
		}
		out = append(out, m)
	}
	switch {
	case systems == 0:
		return nil, errImageNoSystem
	case systems > 1:
		return nil, errImageTwoSystems
	}
	// Data disks without a device get the next free letter, in order.
	next := 'b'
	for i := range out {
		for out[i].device == "" && next <= 'z' {
			if dev := "/dev/xvd" + string(next); !used[dev] {
				out[i].device, used[dev] = dev, true
			}
			next++
		}
		if out[i].device == "" {
			return nil, errImageDevice
		}
	}
	return out, nil
}

type (
	imagesResponse struct {
		TotalCount int         `json:"TotalCount"`
		PageNumber int         `json:"PageNumber"`
		PageSize   int         `json:"PageSize"`
		RegionID   string      `json:"RegionId"`
		Images     imagesOuter `json:"Images"`
	}
	imagesOuter struct {
		Image []imageJSON `json:"Image"`
	}
	imageJSON struct {
		ImageID            string       `json:"ImageId"`
		ImageName          string       `json:"ImageName"`
		Description        string       `json:"Description"`
		Status             string       `json:"Status"`
		Progress           string       `json:"Progress"`
		CreationTime       string       `json:"CreationTime"`
		ImageOwnerAlias    string       `json:"ImageOwnerAlias"`
		IsPublic           bool         `json:"IsPublic"`
		Size               int          `json:"Size"`
		OSType             string       `json:"OSType"`
		Architecture       string       `json:"Architecture"`
		Usage              string       `json:"Usage"`
		Tags               diskTagsJSON `json:"Tags"`
		DiskDeviceMappings mappingsJSON `json:"DiskDeviceMappings"`
	}
	mappingsJSON struct {
		DiskDeviceMapping []mappingJSON `json:"DiskDeviceMapping"`
	}
	mappingJSON struct {
		SnapshotID string `json:"SnapshotId"`
		Size       string `json:"Size"` // GiB, a string as in the real API
		Device     string `json:"Device"`
		Type       string `json:"Type"`
		Format     string `json:"Format"`
		Progress   string `json:"Progress"`
	}
)

// imageStatuses are DescribeImages' Status values.
var imageStatuses = []string{"Creating", "Waiting", "Available", "UnAvailable", "CreateFailed", "Deprecated"}

// describeImages lists the account's custom images. Status defaults to
// Available, as in the real API: an image still being created is listed
// only when Status names Creating.
func (e *Emulator) describeImages(c *callCtx) (any, *apiError) {
	p := c.p
	statuses := []string{"Available"}
	if v := p["Status"]; v != "" {
		statuses = nil
		for _, s := range strings.Split(v, ",") {
			if !slices.Contains(imageStatuses, s) {
				return nil, errInvalidParameter("Status")
			}
			statuses = append(statuses, s)
		}
	}
	var ids []string
	if v := p["ImageId"]; v != "" {
		ids = strings.Split(v, ",")
	}
	filter, aerr := tagsFor(p, false)
	if aerr != nil {
		return nil, aerr
	}
	pageNumber, pageSize := 1, 10
	if n, ok, aerr := intParam(p, "PageNumber"); aerr != nil || (ok && n < 1) {
		return nil, errInvalidParameter("PageNumber")
	} else if ok {
		pageNumber = n
	}
	if n, ok, aerr := intParam(p, "PageSize"); aerr != nil || (ok && (n < 1 || n > 100)) {
		return nil, errInvalidParameter("PageSize")
	} else if ok {
		pageSize = n
	}
	alias := p["ImageOwnerAlias"]
	e.restore.init()
	var list []*imageState
	for _, im := range e.restore.images {
		switch {
		case alias != "" && alias != "self",
			ids != nil && !slices.Contains(ids, im.id),
			!slices.Contains(statuses, im.status),
			p["ImageName"] != "" && p["ImageName"] != im.name,
			p["SnapshotId"] != "" && !slices.ContainsFunc(im.mappings, func(m imageMapping) bool { return m.snapshotID == p["SnapshotId"] }),
			!tagsMatch(im.tags, filter):
			continue
		}
		list = append(list, im)
	}
	slices.SortFunc(list, func(a, b *imageState) int { return cmpDesc(a.seq, b.seq) })
	resp := imagesResponse{TotalCount: len(list), PageNumber: pageNumber, PageSize: pageSize, RegionID: e.sc.Region}
	resp.Images.Image = []imageJSON{}
	start := min((pageNumber-1)*pageSize, len(list))
	for _, im := range list[start:min(start+pageSize, len(list))] {
		resp.Images.Image = append(resp.Images.Image, e.imageJSON(im, c.now))
	}
	return resp, nil
}

func (e *Emulator) imageJSON(im *imageState, now time.Time) imageJSON {
	progress := "100%"
	if im.status == "Creating" {
		total := e.sc.Restore.imageCreate()
		progress = fmt.Sprintf("%d%%", min(int(now.Sub(im.created)*100/total), 99))
	}
	out := imageJSON{
		ImageID: im.id, ImageName: im.name, Description: im.description, Status: im.status, Progress: progress,
		CreationTime: im.created.Format(snapshotTimeFormat), ImageOwnerAlias: "self", OSType: "linux",
		Architecture: "x86_64", Usage: "none", Tags: tagKVList(im.tags),
	}
	out.DiskDeviceMappings.DiskDeviceMapping = []mappingJSON{}
	for _, m := range im.mappings {
		if m.diskType == "system" {
			out.Size = m.sizeGiB
		}
		out.DiskDeviceMappings.DiskDeviceMapping = append(out.DiskDeviceMappings.DiskDeviceMapping, mappingJSON{
			SnapshotID: m.snapshotID, Size: strconv.Itoa(m.sizeGiB), Device: m.device, Type: m.diskType, Format: "qcow2", Progress: progress,
		})
	}
	return out
}

// ImageView is an image's state, for tests.
type ImageView struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Status   string   `json:"status"`
	System   string   `json:"system_snapshot"`
	DataSnap []string `json:"data_snapshots,omitempty"`
}

// Images returns every custom image at the current cloud time.
func (e *Emulator) Images() []ImageView {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.refresh(e.clock.Now())
	e.restore.init()
	var out []ImageView
	for _, im := range e.restore.images {
		v := ImageView{ID: im.id, Name: im.name, Status: im.status}
		for _, m := range im.mappings {
			if m.diskType == "system" {
				v.System = m.snapshotID
			} else {
				v.DataSnap = append(v.DataSnap, m.snapshotID)
			}
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b ImageView) int { return strings.Compare(a.ID, b.ID) })
	return out
}
