package consistency

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

// A record is what the writer appends and fsyncs: a 32-byte header and a
// payload,
//
//	magic "ECSSREC1" | seq uint64 | payload length uint32 | CRC-32C uint32 | 8 bytes zero
//
// the CRC covering the sequence number and the payload, so a torn, zeroed
// or misplaced record is told from an intact one.
const (
	recordMagic  = "ECSSREC1"
	headerSize   = 32
	maxPayload   = 4 << 20
	recordsAlign = 512
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func recordSum(seq uint64, payload []byte) uint32 {
	var s [8]byte
	binary.LittleEndian.PutUint64(s[:], seq)
	return crc32.Update(crc32.Checksum(s[:], castagnoli), castagnoli, payload)
}

// appendRecord appends record seq with payload to buf.
func appendRecord(buf []byte, seq uint64, payload []byte) []byte {
	var h [headerSize]byte
	copy(h[:8], recordMagic)
	binary.LittleEndian.PutUint64(h[8:], seq)
	binary.LittleEndian.PutUint32(h[16:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[20:], recordSum(seq, payload))
	return append(append(buf, h[:]...), payload...)
}

// scanResult is what one file of records holds.
type scanResult struct {
	Intact []uint64 // sequence numbers of intact records
	Torn   int      // records whose header or payload is damaged
}

// scanRecords parses a file of records. It stops at the first place that
// is not a record: all zeros there (a file extended but not yet written,
// as a crash leaves it) is the normal end; anything else counts as one
// torn record.
func scanRecords(data []byte) scanResult {
	var r scanResult
	for off := 0; off < len(data); {
		rest := data[off:]
		if len(rest) < headerSize || !bytes.Equal(rest[:8], []byte(recordMagic)) {
			if !allZero(rest) {
				r.Torn++
			}
			return r
		}
		seq := binary.LittleEndian.Uint64(rest[8:])
		n := int(binary.LittleEndian.Uint32(rest[16:]))
		sum := binary.LittleEndian.Uint32(rest[20:])
		if n > maxPayload || headerSize+n > len(rest) {
			r.Torn++
			return r
		}
		if recordSum(seq, rest[headerSize:headerSize+n]) != sum {
			r.Torn++
		} else {
			r.Intact = append(r.Intact, seq)
		}
		off += headerSize + n
	}
	return r
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
