package ecsemu

import (
	"slices"
	"testing"
)

func TestNextTokenRoundTrip(t *testing.T) {
	for _, seq := range []int64{0, 1, 42, 1 << 40} {
		tok := encodeNextToken(seq)
		if len(tok) != 32 {
			t.Errorf("token %q is not 32 hex digits", tok)
		}
		if got, ok := decodeNextToken(tok); !ok || got != seq {
			t.Errorf("decode(encode(%d)) = %d, %v", seq, got, ok)
		}
	}
	tok := encodeNextToken(7)
	for _, bad := range []string{"", "zz", tok[:31] + "x", tok[:16] + "0000000000000000", "caeba0bbb2be03f84eb48b699f0a4883"} {
		if _, ok := decodeNextToken(bad); ok {
			t.Errorf("decodeNextToken(%q) accepted", bad)
		}
	}
}

func TestPaginate(t *testing.T) {
	items := []int64{10, 9, 8, 7, 6} // newest first
	id := func(v int64) int64 { return v }
	st := pageStyle{minMax: 1, maxMax: 100, defMax: 10, pages: true, maxPageSize: 100}

	pg, aerr := parsePager(params{"MaxResults": "2"}, st)
	if aerr != nil {
		t.Fatal(aerr)
	}
	var all []int64
	for {
		page, info := paginate(items, id, true, pg)
		all = append(all, page...)
		if info.TotalCount != len(page) {
			t.Errorf("token mode TotalCount = %d, want the page length %d", info.TotalCount, len(page))
		}
		if info.NextToken == "" {
			break
		}
		pg, aerr = parsePager(params{"MaxResults": "2", "NextToken": info.NextToken}, st)
		if aerr != nil {
			t.Fatal(aerr)
		}
		// Deleting the last item seen must not make the next page skip or repeat.
		items = slices.DeleteFunc(items, func(v int64) bool { return v == all[len(all)-1] })
	}
	if !slices.Equal(all, []int64{10, 9, 8, 7, 6}) {
		t.Errorf("token pages = %v", all)
	}

	items = []int64{1, 2, 3, 4, 5}
	pg, _ = parsePager(params{"PageNumber": "2", "PageSize": "2"}, st)
	page, info := paginate(items, id, false, pg)
	if !slices.Equal(page, []int64{3, 4}) || info.TotalCount != 5 || info.PageNumber != 2 || info.PageSize != 2 || info.NextToken != "" {
		t.Errorf("page 2 = %v %+v", page, info)
	}
	pg, _ = parsePager(params{"PageNumber": "9"}, st)
	if page, _ := paginate(items, id, false, pg); len(page) != 0 {
		t.Errorf("page past the end = %v", page)
	}

	tests := []struct {
		name string
		p    params
		st   pageStyle
		code string
		max  int
	}{
		{"clamped low", params{"MaxResults": "1"}, disksPaging, "", 10},
		{"clamped high", params{"MaxResults": "9999"}, disksPaging, "", 500},
		{"refused high", params{"MaxResults": "101"}, snapshotsPaging, "InvalidParameter", 0},
		{"refused zero", params{"MaxResults": "0"}, groupsPaging, "InvalidParameter", 0},
		{"not a number", params{"MaxResults": "ten"}, snapshotsPaging, "InvalidParameter", 0},
		{"page size", params{"PageSize": "101"}, disksPaging, "InvalidParameter", 0},
		{"page number", params{"PageNumber": "0"}, disksPaging, "InvalidParameter", 0},
		{"forged token", params{"NextToken": "caeba0bbb2be03f84eb48b699f0a4883"}, snapshotsPaging, "InvalidNextToken.Malformed", 0},
		{"groups default token mode", params{}, groupsPaging, "", 10},
	}
	for _, tt := range tests {
		pg, aerr := parsePager(tt.p, tt.st)
		switch {
		case tt.code != "" && (aerr == nil || aerr.Code != tt.code):
			t.Errorf("%s: got %v, want %s", tt.name, aerr, tt.code)
		case tt.code == "" && (aerr != nil || pg.maxResults != tt.max):
			t.Errorf("%s: got %+v, %v; want MaxResults %d", tt.name, pg, aerr, tt.max)
		}
	}
}
