package ecsemu

import (
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strconv"
)

// pageStyle describes how one action pages its results.
type pageStyle struct {
	minMax, maxMax, defMax int  // MaxResults range and default
	clampMax               bool // out-of-range MaxResults is clamped (DescribeDisks), else refused
	pages                  bool // PageNumber/PageSize are accepted too
	maxPageSize            int
}

// pager is the parsed paging request.
type pager struct {
	tokenMode  bool
	afterSeq   int64 // token mode: continue after this sequence number
	hasAfter   bool
	maxResults int
	pageNumber int
	pageSize   int
}

// parsePager reads NextToken/MaxResults (token mode) or PageNumber/PageSize.
// Token mode wins when either of its parameters is present.
func parsePager(p params, st pageStyle) (pager, *apiError) {
	var pg pager
	maxRes, hasMax, err := intParam(p, "MaxResults")
	if err != nil {
		return pg, err
	}
	tok := p["NextToken"]
	if hasMax || tok != "" || !st.pages {
		pg.tokenMode = true
		pg.maxResults = st.defMax
		if hasMax {
			switch {
			case maxRes >= st.minMax && maxRes <= st.maxMax:
				pg.maxResults = maxRes
			case st.clampMax:
				pg.maxResults = min(max(maxRes, st.minMax), st.maxMax)
			default:
				return pg, errInvalidParameter("MaxResults")
			}
		}
		if tok != "" {
			seq, ok := decodeNextToken(tok)
			if !ok {
				return pg, errNextToken
			}
			pg.afterSeq, pg.hasAfter = seq, true
		}
		return pg, nil
	}
	pg.pageNumber, pg.pageSize = 1, 10
	if n, ok, err := intParam(p, "PageNumber"); err != nil {
		return pg, err
	} else if ok {
		if n < 1 {
			return pg, errInvalidParameter("PageNumber")
		}
		pg.pageNumber = n
	}
	if n, ok, err := intParam(p, "PageSize"); err != nil {
		return pg, err
	} else if ok {
		if n < 1 || n > st.maxPageSize {
			return pg, errInvalidParameter("PageSize")
		}
		pg.pageSize = n
	}
	return pg, nil
}

// pageInfo is what a paged response reports besides the items.
type pageInfo struct {
	TotalCount int    `json:"TotalCount"`
	PageNumber int    `json:"PageNumber,omitempty"`
	PageSize   int    `json:"PageSize,omitempty"`
	NextToken  string `json:"NextToken"`
}

// paginate returns one page of items, which are in listing order with
// sequence numbers ascending (desc=false) or descending (desc=true). Token
// mode continues after the last returned item's sequence number, so items
// deleted or created between pages neither shift nor repeat the rest.
func paginate[T any](items []T, seq func(T) int64, desc bool, pg pager) ([]T, pageInfo) {
	if !pg.tokenMode {
		start := min((pg.pageNumber-1)*pg.pageSize, len(items))
		end := min(start+pg.pageSize, len(items))
		return items[start:end], pageInfo{TotalCount: len(items), PageNumber: pg.pageNumber, PageSize: pg.pageSize}
	}
	start := 0
	if pg.hasAfter {
		for start < len(items) {
			s := seq(items[start])
			if (desc && s < pg.afterSeq) || (!desc && s > pg.afterSeq) {
				break
			}
			start++
		}
	}
	end := min(start+pg.maxResults, len(items))
	page := items[start:end]
	// With NextToken the real API's TotalCount is documented as meaningless;
	// reporting the page length catches clients that rely on it.
	info := pageInfo{TotalCount: len(page)}
	if end < len(items) {
		info.NextToken = encodeNextToken(seq(items[end-1]))
	}
	return page, info
}

// Next tokens look like the real ones (32 hex digits): a sequence number
// and a check value, so a token that was not issued here is refused.
func encodeNextToken(seq int64) string {
	return fmt.Sprintf("%016x%016x", uint64(seq), tokenCheck(seq))
}

func decodeNextToken(tok string) (int64, bool) {
	if len(tok) != 32 {
		return 0, false
	}
	if _, err := hex.DecodeString(tok); err != nil {
		return 0, false
	}
	u, err := strconv.ParseUint(tok[:16], 16, 64)
	if err != nil {
		return 0, false
	}
	check, err := strconv.ParseUint(tok[16:], 16, 64)
	if err != nil || check != tokenCheck(int64(u)) {
		return 0, false
	}
	return int64(u), true
}

func tokenCheck(seq int64) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "ecsemu-next-token:%d", seq)
	return h.Sum64()
}
