package ecsemu

import "strings"

// maxTagResources bounds ResourceId.N of TagResources.
const maxTagResources = 50

// maxTagsPerResource is how many tags one resource may carry; system tags
// (acs:) do not count.
const maxTagsPerResource = 20

// tagResources adds or overwrites tags on snapshots, disks or the instance.
// Snapshot-consistent groups cannot be tagged here (no such ResourceType).
func (e *Emulator) tagResources(c *callCtx) (any, *apiError) {
	// ResourceType, ResourceId.N and Tag.N.Key are checked by the gateway
	// (the action's paramRules).
	rtype := c.p["ResourceType"]
	ids, aerr := c.p.list("ResourceId", maxTagResources)
	if aerr != nil {
		return nil, aerr
	}
	tags, aerr := tagsFor(c.p, true)
	if aerr != nil {
		return nil, aerr
	}
	var targets []map[string]string
	for _, id := range ids {
		m, aerr := e.tagsOf(rtype, id)
		if aerr != nil {
			return nil, aerr
		}
		if userTagCount(m, tags) > maxTagsPerResource {
			return nil, errTagCount
		}
		targets = append(targets, m)
	}
	if c.dryRun {
		return nil, nil
	}
	for _, m := range targets {
		for _, t := range tags {
			m[t.Key] = t.Value
		}
	}
	return struct{}{}, nil
}

// tagsOf returns the live tag map of a resource.
func (e *Emulator) tagsOf(rtype, id string) (map[string]string, *apiError) {
	switch strings.ToLower(rtype) {
	case "snapshot":
		if s, ok := e.snapshots[id]; ok {
			return s.tags, nil
		}
	case "disk":
		if d, ok := e.diskByID[id]; ok {
			return d.tags, nil
		}
	case "instance":
		if in, ok := e.instanceByID[id]; ok {
			return in.tags, nil
		}
	default:
		return nil, errResourceType
	}
	return nil, errResourceNotFound
}

// userTagCount counts the user tags a resource would carry after adding add.
func userTagCount(have map[string]string, add []tag) int {
	n := 0
	for k := range have {
		if !strings.HasPrefix(k, "acs:") {
			n++
		}
	}
	for _, t := range add {
		if _, ok := have[t.Key]; !ok {
			n++
		}
	}
	return n
}
