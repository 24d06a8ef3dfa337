package ecsemu

// Instance power actions. Both are asynchronous: StopInstance leaves the
// instance Stopping until it is Stopped, StartInstance Starting until it
// is Running (DescribeInstances shows the way).

// stoppedModes are StopInstance's StoppedMode values. KeepCharging is what
// the API does when economical mode is not enabled by default, the
// emulator's account setting.
var stoppedModes = []string{"KeepCharging", "StopCharging", "Not-applicable"}

// powerTarget looks up InstanceId and checks the security lock.
func (e *Emulator) powerTarget(p params) (*instanceState, *apiError) {
	if p["InstanceId"] == "" {
		return nil, errMissingParameter("InstanceId")
	}
	in, ok := e.instanceByID[p["InstanceId"]]
	if !ok {
		return nil, errInstanceNotFound
	}
	if in.hasLock("security") {
		return nil, errInstanceLocked
	}
	return in, nil
}

func (e *Emulator) stopInstance(c *callCtx) (any, *apiError) {
	in, aerr := e.powerTarget(c.p)
	if aerr != nil {
		return nil, aerr
	}
	mode, aerr := oneOf(c.p, "StoppedMode", "KeepCharging", stoppedModes...)
	if aerr != nil {
		return nil, aerr
	}
	if _, aerr := c.p.bool("ForceStop"); aerr != nil {
		return nil, aerr
	}
	if in.status != "Running" {
		return nil, errIncorrectInstance
	}
	if c.dryRun {
		return nil, nil
	}
	in.status = "Stopping"
	e.restore.init()
	e.restore.stoppedMode[in.spec.ID] = mode
	id := in.spec.ID
	e.schedule(id, "Stopped", c.now.Add(e.sc.Restore.instanceStop()), func() {
		if h := e.restore.hooks.Stopped; h != nil {
			h(id)
		}
	})
	e.log.Info("instance stopping", "instance", in.spec.ID, "stopped_mode", mode)
	return struct{}{}, nil
}

func (e *Emulator) startInstance(c *callCtx) (any, *apiError) {
	in, aerr := e.powerTarget(c.p)
	if aerr != nil {
		return nil, aerr
	}
	if in.status != "Stopped" {
		return nil, errIncorrectInstance
	}
	if c.dryRun {
		return nil, nil
	}
	in.status = "Starting"
	in.spec.NeverStarted = false
	id := in.spec.ID
	e.schedule(id, "Running", c.now.Add(e.sc.Restore.instanceStart()), func() {
		if h := e.restore.hooks.Started; h != nil {
			h(id)
		}
	})
	e.log.Info("instance starting", "instance", in.spec.ID)
	return struct{}{}, nil
}
