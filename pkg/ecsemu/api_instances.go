package ecsemu

import (
	"slices"
	"time"
)

// Response shapes of DescribeInstances (the subset of fields the emulator
// knows; names and JSON types as the real API).
type (
	instancesResponse struct {
		pageInfo                 // TotalCount, PageNumber, PageSize, NextToken
		Instances instancesOuter `json:"Instances"`
	}
	instancesOuter struct {
		Instance []instanceJSON `json:"Instance"`
	}
	// instanceIdentity is what DescribeInstances and
	// DescribeInstanceAttribute both report first, with the same JSON types.
	instanceIdentity struct {
		InstanceID   string `json:"InstanceId"`
		InstanceName string `json:"InstanceName"`
		HostName     string `json:"HostName"`
		Description  string `json:"Description"`
		Status       string `json:"Status"`
		RegionID     string `json:"RegionId"`
		ZoneID       string `json:"ZoneId"`
		InstanceType string `json:"InstanceType"`
		ImageID      string `json:"ImageId"`
		SerialNumber string `json:"SerialNumber"`
	}
	instanceJSON struct {
		instanceIdentity
		OSType              string       `json:"OSType"`
		OSName              string       `json:"OSName"`
		InstanceNetworkType string       `json:"InstanceNetworkType"`
		InstanceChargeType  string       `json:"InstanceChargeType"`
		IoOptimized         bool         `json:"IoOptimized"`
		Cpu                 int          `json:"Cpu"`
		Memory              int          `json:"Memory"`
		CreationTime        string       `json:"CreationTime"`
		StartTime           string       `json:"StartTime"`
		OperationLocks      locksJSON    `json:"OperationLocks"`
		Tags                diskTagsJSON `json:"Tags"`
	}
	locksJSON struct {
		LockReason []lockReasonJSON `json:"LockReason"`
	}
	lockReasonJSON struct {
		LockReason string `json:"LockReason"`
	}
)

// minuteFormat is the instance and disk CreationTime format.
const minuteFormat = "2006-01-02T15:04Z"

var instancesPaging = pageStyle{minMax: 1, maxMax: 100, defMax: 10, pages: true, maxPageSize: 100}

func (e *Emulator) describeInstances(c *callCtx) (any, *apiError) {
	ids, aerr := idList(c.p, "InstanceIds", 100)
	if aerr != nil {
		return nil, aerr
	}
	status, aerr := oneOf(c.p, "Status", "", instanceStatuses...)
	if aerr != nil {
		return nil, aerr
	}
	filter, aerr := tagsFor(c.p, false)
	if aerr != nil {
		return nil, aerr
	}
	pg, aerr := parsePager(c.p, instancesPaging)
	if aerr != nil {
		return nil, aerr
	}
	var list []*instanceState
	for _, in := range e.instances {
		match := (ids == nil || slices.Contains(ids, in.spec.ID)) &&
			(status == "" || status == in.status) &&
			(c.p["ZoneId"] == "" || c.p["ZoneId"] == in.spec.ZoneID) &&
			(c.p["InstanceType"] == "" || c.p["InstanceType"] == in.spec.Type) &&
			tagsMatch(in.tags, filter)
		if match {
			list = append(list, in)
		}
	}
	page, info := paginate(list, func(in *instanceState) int64 { return in.seq }, false, pg)
	resp := instancesResponse{pageInfo: info}
	resp.Instances.Instance = []instanceJSON{}
	for _, in := range page {
		resp.Instances.Instance = append(resp.Instances.Instance, e.instanceJSON(in))
	}
	return resp, nil
}

func (e *Emulator) instanceJSON(in *instanceState) instanceJSON {
	locks := locksJSON{LockReason: []lockReasonJSON{}}
	for _, r := range in.spec.LockReasons {
		locks.LockReason = append(locks.LockReason, lockReasonJSON{LockReason: r})
	}
	start := ""
	if !in.spec.NeverStarted {
		start = in.created.Add(time.Minute).Format(minuteFormat)
	}
	return instanceJSON{
		instanceIdentity: instanceIdentity{
			InstanceID: in.spec.ID, InstanceName: in.spec.Name, HostName: in.spec.Hostname,
			Status: in.status, RegionID: e.sc.Region, ZoneID: in.spec.ZoneID, InstanceType: in.spec.Type,
			ImageID: in.spec.ImageID, SerialNumber: in.spec.SerialNumber,
		},
		OSType: "linux", OSName: "Alibaba Cloud Linux 3",
		InstanceNetworkType: "vpc", InstanceChargeType: "PostPaid", IoOptimized: true, Cpu: 2, Memory: 8192,
		CreationTime: in.created.Format(minuteFormat), StartTime: start,
		OperationLocks: locks, Tags: tagKVList(in.tags),
	}
}
