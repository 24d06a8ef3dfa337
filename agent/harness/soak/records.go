package soak

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"strconv"
)

// A record is one line the writer appends: its sequence number, a payload
// in hex and the CRC-32 of the payload bytes,
//
//	<seq> <payload hex> <crc32 hex>\n
//
// so that a torn, zeroed or reordered record is told from an intact one.
func formatRecord(seq int, payload []byte) []byte {
	return fmt.Appendf(nil, "%d %s %08x\n", seq, hex.EncodeToString(payload), crc(payload))
}

func crc(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

// ack is a record the writer saw made durable (write and fsync returned
// without error): what must be found intact at the end.
type ack struct {
	seq  int
	sum  uint32
	size int // bytes of the line
}

// parseRecord decodes one line (without its newline); ok is false for
// anything torn or corrupt.
func parseRecord(line []byte) (seq int, sum uint32, ok bool) {
	f := bytes.Fields(line)
	if len(f) != 3 {
		return 0, 0, false
	}
	seq, err := strconv.Atoi(string(f[0]))
	if err != nil {
		return 0, 0, false
	}
	payload, err := hex.DecodeString(string(f[1]))
	if err != nil {
		return 0, 0, false
	}
	want, err := strconv.ParseUint(string(f[2]), 16, 32)
	if err != nil || crc(payload) != uint32(want) {
		return 0, 0, false
	}
	return seq, uint32(want), true
}

// recordLoss is what verifying one file found.
type recordLoss struct {
	Records int   // acknowledged records missing or corrupt
	Bytes   int64 // their size
	Corrupt int   // lines that did not decode (acknowledged or not)
	First   int   // sequence number of the first lost record, -1 if none
}

// verifyRecords checks that every acknowledged record is in data, intact.
// Records written after the last acknowledgement may be absent or torn:
// nobody was told they were durable.
func verifyRecords(data []byte, acked []ack) recordLoss {
	found := map[int]uint32{}
	loss := recordLoss{First: -1}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		seq, sum, ok := parseRecord(sc.Bytes())
		if !ok {
			loss.Corrupt++
			continue
		}
		found[seq] = sum
	}
	for _, a := range acked {
		if sum, ok := found[a.seq]; ok && sum == a.sum {
			continue
		}
		loss.Records++
		loss.Bytes += int64(a.size)
		if loss.First < 0 {
			loss.First = a.seq
		}
	}
	return loss
}
