package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ecssnap/ecssnap/pkg/replacefile"
)

// The index (jobs.index beside jobs/) spares Open reading every record: a
// machine keeps up to a thousand, and decoding them all cost an in-process
// job about 120 ms before its first call. One line per Save, "ID STATE
// CREATED" (CREATED in Unix nanoseconds), appended after the record is
// durable; the last line of an ID wins.
//
// It is a cache, never the truth: Open trusts it only for records it says
// are done, which is final (a record saved done was durable before its line
// was written, and no job leaves StateDone), and reads every other record
// and every record it does not name. A line lost in a crash, a torn last
// line or a deleted index therefore costs reads, never a job; so the index
// is not fsynced.
const (
	indexName   = "jobs.index"
	indexHeader = "ecssnap job index 1"
)

// readIndex returns the entries the index names and how many lines it has;
// -1 lines when it is missing or not an index.
func readIndex(dir string) (map[string]entry, int) {
	data, err := os.ReadFile(filepath.Join(dir, indexName))
	if err != nil {
		return nil, -1
	}
	header, rest, _ := bytes.Cut(data, []byte("\n"))
	if string(header) != indexHeader {
		return nil, -1
	}
	entries := map[string]entry{}
	lines := 0
	sc := bufio.NewScanner(bytes.NewReader(rest))
	for sc.Scan() {
		lines++
		id, e, ok := parseIndexLine(sc.Text())
		if ok {
			entries[id] = e
		}
	}
	return entries, lines
}

func parseIndexLine(line string) (string, entry, bool) {
	f := strings.Fields(line)
	if len(f) != 3 || !ValidID(f[0]) || !knownStates[f[1]] {
		return "", entry{}, false
	}
	ns, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return "", entry{}, false
	}
	return f[0], entry{state: f[1], created: time.Unix(0, ns)}, true
}

func indexLine(id string, e entry) string {
	return fmt.Sprintf("%s %s %d\n", id, e.state, e.created.UnixNano())
}

// scan is what entries found: the records as the index has them, how
// many files it read, how many lines the index has (-1: there is none),
// and whether the index should be written anew: it is missing, has
// outgrown the records, or missed or misstated a record read from its file.
type scan struct {
	idx     map[string]entry
	read    int
	lines   int
	rewrite bool
}

// entries lists the records in the directory as the index would have them:
// from the index for records it says are done, from the file for every
// other. A writable store (clean) removes temp files left by interrupted
// writes and moves undecodable records aside; a read-only store only logs
// them, because the daemon may be writing at that moment and the
// directory is not the reader's to change.
func (s *Store) entries(clean bool) (scan, error) {
	logged, lines := readIndex(s.dir)
	ents, err := os.ReadDir(s.jobs)
	if err != nil {
		return scan{}, fmt.Errorf("list job records: %w", err)
	}
	sc := scan{idx: make(map[string]entry, len(ents)), lines: lines, rewrite: lines < 0}
	changed := false
	for _, ent := range ents {
		name := ent.Name()
		switch {
		case isTempName(name):
			if clean {
				s.removeTemp(name)
				changed = true
			}
			continue
		case !ent.Type().IsRegular() || !strings.HasSuffix(name, recordSuffix):
			continue // .corrupt files and anything else that is not a record
		}
		id := strings.TrimSuffix(name, recordSuffix)
		if logged[id].state == StateDone {
			sc.idx[id] = logged[id]
			continue
		}
		sc.read++
		rec, err := s.read(name)
		switch {
		case err == nil:
			e := entry{created: rec.Created, state: rec.State}
			sc.idx[rec.ID] = e
			if got, ok := logged[rec.ID]; !ok || got.state != e.state || !got.created.Equal(e.created) {
				sc.rewrite = true
			}
		case errors.Is(err, fs.ErrNotExist):
			// Pruned by the daemon between ReadDir and the read.
		case errors.Is(err, ErrNewerVersion):
			s.log.Warn("job record from a newer ecssnap; skipped and left in place", "file", name, "err", err)
		case errors.Is(err, ErrCorrupt) && clean:
			s.quarantine(name, err)
			changed = true
		default:
			s.log.Error("job record unreadable; skipped", "file", name, "err", err)
		}
	}
	if changed {
		if err := syncDir(s.jobs); err != nil {
			return scan{}, err
		}
	}
	sc.rewrite = sc.rewrite || outgrown(sc.lines, len(sc.idx))
	return sc, nil
}

// outgrown reports whether an index of lines lines has outgrown n records
// enough to be written anew.
func outgrown(lines, n int) bool { return lines > 2*n+64 }

// writeIndex replaces the index with one line per indexed record, so that
// the next Open reads only the unfinished ones. The caller holds s.mu.
func (s *Store) writeIndex() {
	ids := make([]string, 0, len(s.index))
	for id := range s.index {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b strings.Builder
	b.WriteString(indexHeader + "\n")
	for _, id := range ids {
		b.WriteString(indexLine(id, s.index[id]))
	}
	err := replacefile.Bytes(filepath.Join(s.dir, indexName), 0o600, []byte(b.String()))
	if err != nil {
		s.log.Warn("could not write the job index; the next start reads every record", "err", err)
	}
	s.indexLines = len(ids)
}

// noteIndex appends id's entry to the index after its record was saved;
// when the index may have outgrown the records it names, it is written
// anew instead. A failure costs the next Open reads, nothing else. The
// caller holds s.mu.
func (s *Store) noteIndex(id string) {
	if outgrown(s.indexLines, len(s.index)) {
		s.writeIndex()
		return
	}
	f, err := os.OpenFile(filepath.Join(s.dir, indexName), os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		_, err = f.WriteString(indexLine(id, s.index[id]))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		s.log.Warn("could not add to the job index; the next start reads this record", "job", id, "err", err)
		return
	}
	s.indexLines++
}
