package ecsemu

import (
	"strconv"
	"strings"
)

// paramRules is what the gateway demands of an action's parameters before
// its handler runs. The real API is not uniform: region-scoped calls take
// RegionId, calls on one resource (CreateSnapshot, DeleteSnapshot,
// AttachDisk, StopInstance, DescribeInstanceAttribute, ...) have none and
// are accepted without it. Each action's rules follow the request model of
// github.com/alibabacloud-go/ecs-20140526/v7 ("This parameter is
// required"); see REFERENCE.md section 3.
type paramRules struct {
	// regional: RegionId is required and must name the emulator's region.
	// Otherwise a RegionId sent anyway (SDK v1 always sends one) is ignored.
	regional bool
	// required names further mandatory parameters. "Name.N" means at least
	// one of the repeated Name.1, Name.2, ...; "Name.N.Field" at least one
	// Name.<n>.Field. An empty value counts as absent.
	required []string
}

// regional is the rule set of a region-scoped action.
func regional(required ...string) paramRules {
	return paramRules{regional: true, required: required}
}

// global is the rule set of an action without RegionId.
func global(required ...string) paramRules {
	return paramRules{required: required}
}

// requireParams applies rules to p: a missing parameter is MissingParameter
// (naming it as the caller would spell its first instance), a RegionId of
// another region InvalidRegionId.NotFound.
func (e *Emulator) requireParams(rules paramRules, p params) *apiError {
	if rules.regional {
		switch p["RegionId"] {
		case "":
			return errMissingParameter("RegionId")
		case e.sc.Region:
		default:
			return errRegionNotFound
		}
	}
	for _, name := range rules.required {
		if !hasParam(p, name) {
			return errMissingParameter(strings.Replace(name, ".N", ".1", 1))
		}
	}
	return nil
}

// hasParam reports whether p carries a non-empty value for name, where
// ".N" in name matches any positive index.
func hasParam(p params, name string) bool {
	prefix, suffix, repeated := strings.Cut(name, ".N")
	if !repeated {
		return p[name] != ""
	}
	for k, v := range p {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok || v == "" {
			continue
		}
		num, ok := strings.CutSuffix(rest, suffix)
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(num); err == nil && n >= 1 {
			return true
		}
	}
	return false
}
