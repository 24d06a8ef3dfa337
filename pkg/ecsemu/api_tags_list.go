package ecsemu

import (
	"net/http"
	"slices"
	"strings"
)

// ListTagResources and UntagResources: the read and remove halves of the
// tag API that TagResources starts. Resource types are those the emulator
// models (snapshot, disk, instance); other documented types name nothing
// here and list empty.

// maxUntagKeys bounds TagKey.N of UntagResources.
const maxUntagKeys = 20

type (
	tagResourcesResponse struct {
		NextToken    string            `json:"NextToken"`
		TagResources tagResourcesOuter `json:"TagResources"`
	}
	tagResourcesOuter struct {
		TagResource []tagResourceJSON `json:"TagResource"`
	}
	tagResourceJSON struct {
		ResourceID   string `json:"ResourceId"`
		ResourceType string `json:"ResourceType"`
		TagKey       string `json:"TagKey"`
		TagValue     string `json:"TagValue"`
	}
)

// taggable is one resource that can carry tags, in listing order.
type taggable struct {
	id   string
	tags map[string]string
}

// resourcesOf lists the live resources of a type in a stable order: the
// scenario order for instances and disks, creation order for snapshots.
// ok is false for a type the API does not know.
func (e *Emulator) resourcesOf(rtype string) ([]taggable, bool) {
	var out []taggable
	switch strings.ToLower(rtype) {
	case "instance":
		for _, in := range e.instances {
			out = append(out, taggable{in.spec.ID, in.tags})
		}
	case "disk":
		for _, d := range e.disks {
			out = append(out, taggable{d.spec.ID, d.tags})
		}
	case "snapshot":
		snaps := e.sortedSnapshots()
		slices.Reverse(snaps)
		for _, s := range snaps {
			out = append(out, taggable{s.id, s.tags})
		}
	default:
		if !slices.Contains(otherTagResourceTypes, strings.ToLower(rtype)) {
			return nil, false
		}
	}
	return out, true
}

// otherTagResourceTypes are ListTagResources types the emulator has no
// resources of (accepted, always empty).
var otherTagResourceTypes = []string{
	"image", "securitygroup", "volume", "eni", "ddh", "ddhcluster", "keypair", "launchtemplate",
	"reservedinstance", "snapshotpolicy", "elasticityassurance", "capacityreservation",
	"command", "invocation", "activation", "managedinstance",
}

// listTagResources answers one page of resource-tag pairs: of the given
// ResourceId.N, or of every resource of the type carrying all of Tag.N
// (a Tag.N with an empty value matches any value of its key). Paging is
// by NextToken only; the page size is Behavior.TagListPageSize (the API
// has no MaxResults; documented as 50, unconfirmed).
func (e *Emulator) listTagResources(c *callCtx) (any, *apiError) {
	rtype := strings.ToLower(c.p["ResourceType"])
	for k := range c.p {
		if strings.HasPrefix(k, "TagFilter.") {
			// Fuzzy tag filters are not emulated; answering as if the
			// filter were absent would list the wrong resources.
			return nil, newErr(http.StatusBadRequest, "InvalidParameter", "The emulator does not support TagFilter.N; filter with Tag.N.")
		}
	}
	ids, aerr := c.p.list("ResourceId", maxTagResources)
	if aerr != nil {
		return nil, aerr
	}
	filter, aerr := tagsFor(c.p, false)
	if aerr != nil {
		return nil, aerr
	}
	all, ok := e.resourcesOf(rtype)
	if !ok {
		return nil, errResourceType
	}
	type pair struct {
		id, key, value string
	}
	var pairs []pair
	for _, r := range all {
		if ids != nil && !slices.Contains(ids, r.id) {
			continue
		}
		if !tagsMatch(r.tags, filter) {
			continue
		}
		for _, k := range sortedKeys(r.tags) {
			// Whether a tag filter also narrows the tags listed is not
			// documented: Behavior.TagListFilter.
			if len(filter) > 0 && e.sc.Behavior.TagListFilter == TagListMatching && !slices.ContainsFunc(filter, func(t tag) bool { return t.Key == k }) {
				continue
			}
			pairs = append(pairs, pair{r.id, k, r.tags[k]})
		}
	}
	pg := pager{tokenMode: true, maxResults: e.sc.Behavior.TagListPageSize}
	if tok := c.p["NextToken"]; tok != "" {
		seq, ok := decodeNextToken(tok)
		if !ok {
			return nil, errNextToken
		}
		pg.afterSeq, pg.hasAfter = seq, true
	}
	// The position in this listing is the sequence: tags change rarely
	// between pages of one listing, and a token past the end lists nothing.
	positions := make([]int64, len(pairs))
	for i := range positions {
		positions[i] = int64(i + 1)
	}
	page, info := paginate(positions, func(n int64) int64 { return n }, false, pg)
	resp := tagResourcesResponse{NextToken: info.NextToken}
	resp.TagResources.TagResource = []tagResourceJSON{}
	for _, n := range page {
		p := pairs[n-1]
		resp.TagResources.TagResource = append(resp.TagResources.TagResource,
			tagResourceJSON{ResourceID: p.id, ResourceType: rtype, TagKey: p.key, TagValue: p.value})
	}
	return resp, nil
}

// untagResources removes TagKey.N from each ResourceId.N, or every user
// tag with All=true. Keys a resource does not carry are skipped; system
// tags (acs:) cannot be removed.
func (e *Emulator) untagResources(c *callCtx) (any, *apiError) {
	ids, aerr := c.p.list("ResourceId", maxTagResources)
	if aerr != nil {
		return nil, aerr
	}
	keys, aerr := c.p.list("TagKey", maxUntagKeys)
	if aerr != nil {
		return nil, aerr
	}
	all, aerr := c.p.bool("All")
	if aerr != nil {
		return nil, aerr
	}
	if len(keys) == 0 && !all {
		return nil, errMissingParameter("TagKey.1")
	}
	for _, k := range keys {
		if k == "" || strings.HasPrefix(k, "acs:") || strings.HasPrefix(k, "aliyun") {
			return nil, errTagKey
		}
	}
	var targets []map[string]string
	for _, id := range ids {
		m, aerr := e.tagsOf(c.p["ResourceType"], id)
		if aerr != nil {
			return nil, aerr
		}
		targets = append(targets, m)
	}
	if c.dryRun {
		return nil, nil
	}
	for _, m := range targets {
		for k := range m {
			if (all && !strings.HasPrefix(k, "acs:")) || slices.Contains(keys, k) {
				delete(m, k)
			}
		}
	}
	return struct{}{}, nil
}
