package ecsemu

import (
	"bytes"
	"cmp"
	"encoding/json"
	"maps"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ctxsleep"
)

// actionSpec describes one API action.
type actionSpec struct {
	name string
	// mutating actions change state; a DryRun of one must stop before it.
	mutating bool
	// idempotent actions honour ClientToken.
	idempotent bool
	// throttle is the error throttled calls of this action get.
	throttle *apiError
	// params lists what the action documents as its parameters' demands
	// (the request models of ecs-20140526 mark them "required"); the
	// gateway checks them before the handler runs. See requireParams.
	params paramRules
	run    func(e *Emulator, c *callCtx) (any, *apiError)
}

// actions is every API action the emulator serves.
var actions = map[string]actionSpec{
	"DescribeInstances":         {params: regional(), run: (*Emulator).describeInstances},
	"DescribeInstanceAttribute": {params: global("InstanceId"), run: (*Emulator).describeInstanceAttribute},
	"DescribeInstanceStatus":    {params: regional(), run: (*Emulator).describeInstanceStatus},
	"DescribeDisks":             {params: regional(), run: (*Emulator).describeDisks},
	"DescribeSnapshots":         {params: regional(), run: (*Emulator).describeSnapshots},
	"DescribeSnapshotGroups":    {params: regional(), run: (*Emulator).describeSnapshotGroups},
	"CreateSnapshot":            {mutating: true, idempotent: true, throttle: errThrottlingCreate, params: global("DiskId"), run: (*Emulator).createSnapshot},
	"CreateSnapshotGroup":       {mutating: true, idempotent: true, params: regional(), run: (*Emulator).createSnapshotGroup},
	"DeleteSnapshot":            {mutating: true, params: global("SnapshotId"), run: (*Emulator).deleteSnapshot},
	"DeleteSnapshotGroup":       {mutating: true, params: regional("SnapshotGroupId"), run: (*Emulator).deleteSnapshotGroup},
	"ModifySnapshotAttribute":   {mutating: true, params: global("SnapshotId"), run: (*Emulator).modifySnapshotAttribute},
	"TagResources":              {mutating: true, params: regional("ResourceType", "ResourceId.N", "Tag.N.Key"), run: (*Emulator).tagResources},
	"ListTagResources":          {params: regional("ResourceType"), run: (*Emulator).listTagResources},
	"UntagResources":            {mutating: true, params: regional("ResourceType", "ResourceId.N"), run: (*Emulator).untagResources},
	// Restore: disks from snapshots, attach and detach, rollback, power, images.
	"CreateDisk":     {mutating: true, idempotent: true, params: regional(), run: (*Emulator).createDisk},
	"AttachDisk":     {mutating: true, params: global("InstanceId", "DiskId"), run: (*Emulator).attachDisk},
	"DetachDisk":     {mutating: true, params: global("InstanceId", "DiskId"), run: (*Emulator).detachDisk},
	"DeleteDisk":     {mutating: true, params: global("DiskId"), run: (*Emulator).deleteDisk},
	"ResetDisk":      {mutating: true, params: global("DiskId", "SnapshotId"), run: (*Emulator).resetDisk},
	"ResetDisks":     {mutating: true, params: regional("Disk.N.DiskId", "Disk.N.SnapshotId"), run: (*Emulator).resetDisks},
	"StopInstance":   {mutating: true, params: global("InstanceId"), run: (*Emulator).stopInstance},
	"StartInstance":  {mutating: true, params: global("InstanceId"), run: (*Emulator).startInstance},
	"CreateImage":    {mutating: true, idempotent: true, params: regional(), run: (*Emulator).createImage},
	"DescribeImages": {params: regional(), run: (*Emulator).describeImages},
}

// Actions returns the names of the API actions the emulator serves.
func Actions() []string { return slices.Sorted(maps.Keys(actions)) }

// callCtx is what an action handler sees. Handlers run with e.mu held.
type callCtx struct {
	p      params
	now    time.Time
	dryRun bool
}

// APIHandler serves the ECS API (RPC style, any path, GET or POST).
func (e *Emulator) APIHandler() http.Handler { return http.HandlerFunc(e.serveAPI) }

func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request) {
	req, perr := readRequest(r)
	p := params(req.params)
	action := req.action()
	e.mu.Lock()
	f := e.faults
	draws := e.faultDraws(req.identity())
	e.mu.Unlock()
	if f.appliesTo(action) && (f.Latency > 0 || f.LatencyJitter > 0) {
		if ctxsleep.Sleep(r.Context(), latency(f, draws)) != nil {
			return
		}
	}

	e.mu.Lock()
	call := Call{Time: e.clock.Now(), RequestID: e.newRequestID(), Method: r.Method, Action: action,
		Params: maps.Clone(req.params), Signature: signatureV1, AccessKeyID: req.accessKeyID()}
	if req.v3() {
		call.Signature = signatureV3
	}
	var (
		spec   actionSpec
		aerr   = perr
		result any
		entry  *idemEntry
		key    string
	)
	if aerr == nil {
		spec, aerr = e.authenticate(req)
	}
	if aerr == nil && !spec.params.regional {
		// The action has no RegionId: one sent anyway is ignored, so it
		// neither reaches the handler nor the idempotency fingerprint.
		p = maps.Clone(p)
		delete(p, "RegionId")
	}
	if aerr == nil {
		call.Fault, aerr = e.injectFault(spec, action, f, draws)
	}
	if aerr == nil && spec.idempotent {
		result, entry, key, aerr = e.reserveToken(action, p)
		aerr = inFlightCode(action, aerr)
		call.Replayed = result != nil
	}
	hold := e.holds[action]
	e.mu.Unlock()

	executes := aerr == nil && !call.Replayed
	if executes && hold != nil {
		select {
		case hold.arrived <- p["ClientToken"]:
		default:
		}
		// Even if the client hangs up meanwhile: a real server keeps
		// working on a request it accepted.
		<-hold.released
	}

	e.mu.Lock()
	if executes {
		result, aerr = e.execute(spec, action, p)
		call.Committed = aerr == nil
		e.finishToken(key, entry, result, aerr)
	}
	drop := (executes || call.Replayed) && f.appliesTo(action) && f.DropRate > 0 && draws.Float64() < f.DropRate
	if drop {
		call.Fault = FaultDrop
	}
	bad := ""
	if !drop && aerr == nil {
		bad = f.drawBadAnswer(action, draws)
		call.Fault = cmp.Or(bad, call.Fault)
	}
	call.Status, call.Code = http.StatusOK, ""
	if aerr != nil {
		call.Status, call.Code = aerr.Status, aerr.Code
	}
	e.recordCall(call)
	e.mu.Unlock()

	e.log.Debug("api call", "action", action, "status", call.Status, "code", call.Code, "fault", call.Fault, "committed", call.Committed)
	if drop {
		dropConnection(w)
		return
	}
	if aerr != nil {
		e.writeError(w, call.RequestID, aerr)
		return
	}
	if bad != "" {
		writeBadAnswer(w, bad, f.BadAnswerBytes, call.RequestID, result)
		return
	}
	writeResult(w, call.RequestID, result)
}

// execute runs a handler at the current cloud time. A DryRun of a read
// runs it and answers DryRunOperation on success; mutating handlers check
// c.dryRun themselves before they change anything.
func (e *Emulator) execute(spec actionSpec, action string, p params) (any, *apiError) {
	now := e.clock.Now()
	e.refresh(now)
	c := &callCtx{p: p, now: now}
	if slices.Contains(e.sc.Behavior.DryRunActions, action) {
		dry, aerr := p.bool("DryRun")
		if aerr != nil {
			return nil, aerr
		}
		c.dryRun = dry
	}
	res, aerr := spec.run(e, c)
	if aerr == nil && c.dryRun {
		return nil, errDryRun
	}
	return res, aerr
}

// latency draws one call's delay.
func latency(f Faults, draws *mrand.Rand) time.Duration {
	d := f.Latency
	if f.LatencyJitter > 0 {
		d += time.Duration(draws.Int64N(int64(f.LatencyJitter) + 1))
	}
	return d
}

// injectFault decides throttling and 5xx faults before a call takes
// effect. The account-level rate limit counts every call. Callers hold e.mu.
func (e *Emulator) injectFault(spec actionSpec, action string, f Faults, draws *mrand.Rand) (string, *apiError) {
	throttle := spec.throttle
	if throttle == nil {
		throttle = errThrottlingUser
	}
	if !e.bucket.allow(time.Now()) {
		return FaultThrottle, throttle
	}
	if !f.appliesTo(action) {
		return "", nil
	}
	// Every rate is drawn, used or not, so one fault's rate does not shift
	// another's draws.
	throttled, failed, kind := draws.Float64() < f.ThrottleRate, draws.Float64() < f.ErrorRate, draws.IntN(2)
	if throttled {
		return FaultThrottle, throttle
	}
	if failed {
		if kind == 0 {
			return FaultError, errInternal
		}
		return FaultError, errUnavailable
	}
	return "", nil
}

// dropConnection closes the connection before any response byte.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// Not hijackable (HTTP/2, test recorders): abort the response.
	panic(http.ErrAbortHandler)
}

// writeResult writes a success body: RequestId first, then result's fields.
func writeResult(w http.ResponseWriter, requestID string, result any) {
	body, err := json.Marshal(result)
	if err != nil || len(body) < 2 || body[0] != '{' {
		body = []byte("{}")
	}
	var buf bytes.Buffer
	buf.WriteString(`{"RequestId":`)
	id, _ := json.Marshal(requestID)
	buf.Write(id)
	if inner := bytes.TrimSpace(body[1 : len(body)-1]); len(inner) > 0 {
		buf.WriteByte(',')
		buf.Write(inner)
	}
	buf.WriteByte('}')
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// errorBody is the error envelope; every field is a string.
type errorBody struct {
	RequestID string `json:"RequestId"`
	HostID    string `json:"HostId"`
	Code      string `json:"Code"`
	Message   string `json:"Message"`
	Recommend string `json:"Recommend"`
}

func (e *Emulator) writeError(w http.ResponseWriter, requestID string, aerr *apiError) {
	body, _ := json.Marshal(errorBody{
		RequestID: requestID,
		HostID:    "ecs." + e.sc.Region + ".aliyuncs.com",
		Code:      aerr.Code,
		Message:   aerr.Message,
		Recommend: "https://api.aliyun.com/troubleshoot?q=" + aerr.Code + "&product=Ecs&requestId=" + requestID,
	})
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(aerr.Status)
	_, _ = w.Write(body)
}
