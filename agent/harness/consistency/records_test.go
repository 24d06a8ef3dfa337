package consistency

import (
	"slices"
	"testing"
)

func TestScanRecords(t *testing.T) {
	good := appendRecord(nil, 1, []byte("first"))
	good = appendRecord(good, 2, make([]byte, 1000))
	torn := slices.Clone(good)
	torn[headerSize+2] ^= 0xff // payload of record 1
	cut := appendRecord(slices.Clone(good), 3, []byte("third record"))
	cut = cut[:len(cut)-4]
	for _, tc := range []struct {
		name   string
		data   []byte
		intact []uint64
		torn   int
	}{
		{"empty", nil, nil, 0},
		{"two", good, []uint64{1, 2}, 0},
		{"zero tail", append(slices.Clone(good), make([]byte, 4096)...), []uint64{1, 2}, 0},
		{"damaged payload", torn, []uint64{2}, 1},
		{"cut short", cut, []uint64{1, 2}, 1},
		{"garbage tail", append(slices.Clone(good), 'x'), []uint64{1, 2}, 1},
		{"absurd length", append(slices.Clone(good), appendRecord(nil, 9, nil)[:16]...), []uint64{1, 2}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := scanRecords(tc.data)
			if !slices.Equal(got.Intact, tc.intact) || got.Torn != tc.torn {
				t.Errorf("got intact %v torn %d, want %v %d", got.Intact, got.Torn, tc.intact, tc.torn)
			}
		})
	}
}

func FuzzScanRecords(f *testing.F) {
	f.Add(appendRecord(nil, 7, []byte("x")))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := scanRecords(data)
		if len(r.Intact)*headerSize > len(data) {
			t.Fatalf("%d intact records in %d bytes", len(r.Intact), len(data))
		}
	})
}
