package ecsemu

import "slices"

// DescribeInstanceAttribute (one instance by ID, no RegionId) and
// DescribeInstanceStatus (the status of every instance of the region,
// paged by PageNumber/PageSize only).

type (
	instanceAttributeResponse struct {
		instanceIdentity              // the first fields, as DescribeInstances has them
		InstanceNetworkType string    `json:"InstanceNetworkType"`
		InstanceChargeType  string    `json:"InstanceChargeType"`
		IoOptimized         string    `json:"IoOptimized"` // a string here, unlike DescribeInstances
		Cpu                 int       `json:"Cpu"`
		Memory              int       `json:"Memory"`
		CreationTime        string    `json:"CreationTime"`
		StoppedMode         string    `json:"StoppedMode"`
		OperationLocks      locksJSON `json:"OperationLocks"`
	}
	instanceStatusResponse struct {
		TotalCount       int                  `json:"TotalCount"`
		PageNumber       int                  `json:"PageNumber"`
		PageSize         int                  `json:"PageSize"`
		InstanceStatuses instanceStatusesJSON `json:"InstanceStatuses"`
	}
	instanceStatusesJSON struct {
		InstanceStatus []instanceStatusJSON `json:"InstanceStatus"`
	}
	instanceStatusJSON struct {
		InstanceID string `json:"InstanceId"`
		Status     string `json:"Status"`
	}
)

// maxStatusInstances bounds InstanceId.N of DescribeInstanceStatus.
const maxStatusInstances = 100

// instanceStatusPageSize: PageSize 1..50, default 10; no NextToken.
var instanceStatusPageSize = struct{ def, max int }{10, 50}

func (e *Emulator) describeInstanceAttribute(c *callCtx) (any, *apiError) {
	in, ok := e.instanceByID[c.p["InstanceId"]]
	if !ok {
		return nil, errInstanceNotFound
	}
	j := e.instanceJSON(in)
	stopped := ""
	if in.status == "Stopped" {
		stopped = "KeepCharging"
	}
	return instanceAttributeResponse{
		instanceIdentity: j.instanceIdentity, InstanceNetworkType: j.InstanceNetworkType, InstanceChargeType: j.InstanceChargeType,
		IoOptimized: "optimized", Cpu: j.Cpu, Memory: j.Memory, CreationTime: j.CreationTime, StoppedMode: stopped,
		OperationLocks: j.OperationLocks,
	}, nil
}

// describeInstanceStatus lists instances in scenario order, optionally
// only InstanceId.N (unknown IDs are left out, not refused) and ZoneId.
func (e *Emulator) describeInstanceStatus(c *callCtx) (any, *apiError) {
	ids, aerr := c.p.list("InstanceId", maxStatusInstances)
	if aerr != nil {
		return nil, aerr
	}
	number, size := 1, instanceStatusPageSize.def
	if n, ok, aerr := intParam(c.p, "PageNumber"); aerr != nil {
		return nil, aerr
	} else if ok {
		if n < 1 {
			return nil, errInvalidParameter("PageNumber")
		}
		number = n
	}
	if n, ok, aerr := intParam(c.p, "PageSize"); aerr != nil {
		return nil, aerr
	} else if ok {
		if n < 1 || n > instanceStatusPageSize.max {
			return nil, errInvalidParameter("PageSize")
		}
		size = n
	}
	var list []*instanceState
	for _, in := range e.instances {
		if (len(ids) == 0 || slices.Contains(ids, in.spec.ID)) && (c.p["ZoneId"] == "" || c.p["ZoneId"] == in.spec.ZoneID) {
			list = append(list, in)
		}
	}
	page, info := paginate(list, func(in *instanceState) int64 { return in.seq }, false, pager{pageNumber: number, pageSize: size})
	resp := instanceStatusResponse{TotalCount: info.TotalCount, PageNumber: info.PageNumber, PageSize: info.PageSize}
	resp.InstanceStatuses.InstanceStatus = []instanceStatusJSON{}
	for _, in := range page {
		resp.InstanceStatuses.InstanceStatus = append(resp.InstanceStatuses.InstanceStatus,
			instanceStatusJSON{InstanceID: in.spec.ID, Status: in.status})
	}
	return resp, nil
}
