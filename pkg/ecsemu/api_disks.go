package ecsemu

import (
	"slices"
	"sort"
	"strings"
)

// Tag shapes: disks, instances and snapshots use TagKey/TagValue;
// snapshot-consistent groups use Key/Value.
type (
	tagKVJSON struct {
		TagKey   string `json:"TagKey"`
		TagValue string `json:"TagValue"`
	}
	diskTagsJSON struct {
		Tag []tagKVJSON `json:"Tag"`
	}
)

func tagKVList(m map[string]string) diskTagsJSON {
	out := diskTagsJSON{Tag: []tagKVJSON{}}
	for _, k := range sortedKeys(m) {
		out.Tag = append(out.Tag, tagKVJSON{TagKey: k, TagValue: m[k]})
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type (
	disksResponse struct {
		pageInfo            // TotalCount, PageNumber, PageSize, NextToken
		Disks    disksOuter `json:"Disks"`
	}
	disksOuter struct {
		Disk []diskJSON `json:"Disk"`
	}
	diskJSON struct {
		DiskID             string          `json:"DiskId"`
		DiskName           string          `json:"DiskName"`
		Description        string          `json:"Description"`
		Type               string          `json:"Type"`
		Category           string          `json:"Category"`
		Size               int             `json:"Size"`
		Status             string          `json:"Status"`
		SerialNumber       string          `json:"SerialNumber"`
		Device             string          `json:"Device"`
		InstanceID         string          `json:"InstanceId"`
		RegionID           string          `json:"RegionId"`
		ZoneID             string          `json:"ZoneId"`
		MultiAttach        string          `json:"MultiAttach"`
		Portable           bool            `json:"Portable"`
		Encrypted          bool            `json:"Encrypted"`
		DeleteWithInstance bool            `json:"DeleteWithInstance"`
		PerformanceLevel   string          `json:"PerformanceLevel"`
		CreationTime       string          `json:"CreationTime"`
		AttachedTime       string          `json:"AttachedTime"`
		DiskChargeType     string          `json:"DiskChargeType"`
		SourceSnapshotID   string          `json:"SourceSnapshotId"`
		Tags               diskTagsJSON    `json:"Tags"`
		Attachments        attachmentsJSON `json:"Attachments"`
	}
	attachmentsJSON struct {
		Attachment []attachmentJSON `json:"Attachment"`
	}
	attachmentJSON struct {
		InstanceID   string `json:"InstanceId"`
		Device       string `json:"Device"`
		AttachedTime string `json:"AttachedTime"`
	}
)

// DescribeDisks clamps MaxResults into 10..500; PageSize is at most 100.
var disksPaging = pageStyle{minMax: 10, maxMax: 500, defMax: 10, clampMax: true, pages: true, maxPageSize: 100}

func (e *Emulator) describeDisks(c *callCtx) (any, *apiError) {
	ids, aerr := idList(c.p, "DiskIds", 100)
	if aerr != nil {
		return nil, aerr
	}
	diskType, aerr := oneOf(c.p, "DiskType", "all", "all", "system", "data")
	if aerr != nil {
		return nil, aerr
	}
	status, aerr := oneOf(c.p, "Status", "All", append([]string{"All"}, diskStatuses...)...)
	if aerr != nil {
		return nil, aerr
	}
	multi, aerr := oneOf(c.p, "MultiAttach", "", "Disabled", "Enabled")
	if aerr != nil {
		return nil, aerr
	}
	category := c.p["Category"]
	if category != "" && category != "all" && !knownCategory(category) {
		return nil, errInvalidParameter("Category")
	}
	filter, aerr := tagsFor(c.p, false)
	if aerr != nil {
		return nil, aerr
	}
	pg, aerr := parsePager(c.p, disksPaging)
	if aerr != nil {
		return nil, aerr
	}
	var list []*diskState
	for _, d := range e.disks {
		switch {
		case ids != nil && !slices.Contains(ids, d.spec.ID),
			c.p["InstanceId"] != "" && d.attachedTo() != c.p["InstanceId"],
			diskType != "all" && d.spec.Type != diskType,
			status != "All" && d.status != status,
			category != "" && category != "all" && d.spec.Category != category,
			multi != "" && (multi == "Enabled") != d.spec.MultiAttach,
			c.p["ZoneId"] != "" && d.spec.ZoneID != c.p["ZoneId"],
			c.p["DiskName"] != "" && d.spec.Name != c.p["DiskName"],
			c.p["SnapshotId"] != "" && e.restore.source[d.spec.ID] != c.p["SnapshotId"],
			!tagsMatch(d.tags, filter):
			continue
		}
		list = append(list, d)
	}
	page, info := paginate(list, func(d *diskState) int64 { return d.seq }, false, pg)
	resp := disksResponse{pageInfo: info}
	resp.Disks.Disk = []diskJSON{}
	for _, d := range page {
		resp.Disks.Disk = append(resp.Disks.Disk, e.diskJSON(d))
	}
	return resp, nil
}

func (e *Emulator) diskJSON(d *diskState) diskJSON {
	inst := d.attachedTo()
	multi := "Disabled"
	if d.spec.MultiAttach {
		multi = "Enabled"
	}
	serial := d.spec.Serial
	if serial == "-" {
		serial = ""
	}
	att := attachmentsJSON{Attachment: []attachmentJSON{}}
	attached := ""
	if inst != "" {
		attached = d.created.Format(minuteFormat)
		att.Attachment = append(att.Attachment, attachmentJSON{InstanceID: inst, Device: d.device, AttachedTime: attached})
	}
	if d.spec.MultiAttach {
		// Multi-attach disks report their instances only in Attachments.
		inst = ""
	}
	return diskJSON{
		DiskID: d.spec.ID, DiskName: d.spec.Name, Type: d.spec.Type, Category: d.spec.Category,
		Size: d.spec.SizeGiB, Status: d.status, SerialNumber: serial, Device: d.device,
		InstanceID: inst, RegionID: e.sc.Region, ZoneID: d.spec.ZoneID, MultiAttach: multi,
		Portable: d.spec.Portable, Encrypted: d.spec.Encrypted, DeleteWithInstance: d.spec.DeleteWithInstance,
		PerformanceLevel: d.spec.PerformanceLevel, CreationTime: d.created.Format(minuteFormat),
		AttachedTime: attached, DiskChargeType: "PostPaid", Tags: tagKVList(d.tags), Attachments: att,
		SourceSnapshotID: e.restore.source[d.spec.ID],
	}
}

// hasLock reports whether an instance carries an operation lock reason.
func (in *instanceState) hasLock(reason string) bool {
	return slices.ContainsFunc(in.spec.LockReasons, func(r string) bool { return strings.EqualFold(r, reason) })
}
