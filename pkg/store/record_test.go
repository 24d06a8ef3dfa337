package store

import (
	"bytes"
	"errors"
	"testing"
)

func TestDecodeRecord(t *testing.T) {
	const ok = `{"version":1,"id":"j-1","state":"waiting","created":"2025-03-01T12:00:00Z"}`
	tests := []struct {
		name    string
		in      string
		wantErr bool
		newer   bool
	}{
		{name: "minimal", in: ok},
		{name: "unknown fields are kept for newer minor additions",
			in: `{"version":1,"id":"j-1","state":"done","created":"2025-03-01T12:00:00Z","future":{"x":1}}`},
		{name: "empty", in: ``, wantErr: true},
		{name: "truncated", in: ok[:len(ok)-9], wantErr: true},
		{name: "not an object", in: `[1,2]`, wantErr: true},
		{name: "two records", in: ok + ok, wantErr: true},
		{name: "no version", in: `{"id":"j-1","state":"done","created":"2025-03-01T12:00:00Z"}`, wantErr: true},
		{name: "newer version", in: `{"version":2,"id":"j-1","state":"done"}`, wantErr: true, newer: true},
		{name: "newer version with other field types", in: `{"version":7,"id":17}`, wantErr: true, newer: true},
		{name: "path in ID", in: `{"version":1,"id":"../x","state":"done","created":"2025-03-01T12:00:00Z"}`, wantErr: true},
		{name: "unknown state", in: `{"version":1,"id":"j-1","state":"lost","created":"2025-03-01T12:00:00Z"}`, wantErr: true},
		{name: "unknown consistency level",
			in: `{"version":1,"id":"j-1","state":"done","created":"2025-03-01T12:00:00Z","request":{"consistency":"perfect"}}`, wantErr: true},
		{name: "no created", in: `{"version":1,"id":"j-1","state":"done"}`, wantErr: true},
		{name: "wrong type", in: `{"version":1,"id":"j-1","state":"done","created":"2025-03-01T12:00:00Z","attempts":"2"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeRecord([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("DecodeRecord = %+v, %v; want error %v", r, err, tt.wantErr)
			}
			if errors.Is(err, ErrNewerVersion) != tt.newer {
				t.Fatalf("errors.Is(%v, ErrNewerVersion) = %v, want %v", err, !tt.newer, tt.newer)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"j-20250301-120000-0a1b2c3d": true, "A.b_c-9": true,
		"": false, ".x": false, "a/b": false, "a b": false, "é": false, "a\x00": false,
		string(bytes.Repeat([]byte("a"), maxIDLen)): true, string(bytes.Repeat([]byte("a"), maxIDLen+1)): false,
	} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}

// FuzzDecodeRecord checks that the decoder never panics and that whatever
// it accepts is valid and survives encode/decode unchanged, which is what a
// record rewritten by Save after a restart goes through.
func FuzzDecodeRecord(f *testing.F) {
	seed, _ := EncodeRecord(func() *Record {
		r := sampleRecord("j-20250301-120000-0a1b2c3d")
		r.Version, r.Created, r.Updated = RecordVersion, t0, t0
		return r
	}())
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add([]byte(`{"version":1,"id":"j-1","state":"done","created":"2025-03-01T12:00:00Z"}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRecord(data)
		if err != nil {
			return
		}
		if err := r.validate(); err != nil {
			t.Fatalf("accepted an invalid record: %v", err)
		}
		once, err := EncodeRecord(r)
		if err != nil {
			t.Fatalf("cannot encode a decoded record: %v", err)
		}
		r2, err := DecodeRecord(once)
		if err != nil {
			t.Fatalf("cannot decode its own encoding: %v\n%s", err, once)
		}
		twice, _ := EncodeRecord(r2)
		if !bytes.Equal(once, twice) {
			t.Fatalf("encoding not stable:\n%s\n%s", once, twice)
		}
	})
}
