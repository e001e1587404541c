package toolbar

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// interrupted is the error of a record that was in flight when the
// process that stored it stopped: it will never be done.
const interrupted = "the proxy stopped before the exchange ended"

// load fills s from the file, creating its buckets if the file is new,
// and deletes what s dropped for its bounds.
func (j *journal) load(s *Store) (err error) {
	defer func() {
		// bbolt panics on a page it cannot read (a damaged file).
		if p := recover(); p != nil {
			err = fmt.Errorf("damaged file: %v", p)
		}
	}()
	return j.db.Update(func(tx *bolt.Tx) error {
		if err := checkFormat(tx); err != nil {
			return err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		l := &loader{j: j, s: s, traces: tx.Bucket(bucketTraces), chunks: tx.Bucket(bucketChunks), records: tx.Bucket(bucketRecords)}
		for _, step := range []func() error{l.loadTraces, l.loadChunks, l.loadRecords, l.deleteStale} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
}

// loader is one load's transaction and what it found to delete.
type loader struct {
	j                       *journal
	s                       *Store
	traces, chunks, records *bolt.Bucket

	staleTraces []uint64 // seqs of traces the bounds left out, or made again after a dropped eviction
	staleChunks [][]byte // chunks of traces the bounds left out, or left over
}

// loadTraces makes the file's traces in s, oldest first.
func (l *loader) loadTraces() error {
	return l.traces.ForEach(func(k, v []byte) error {
		if len(k) != 8 || len(v) != len(TraceID{}) {
			return fmt.Errorf("damaged file: trace key %x", k)
		}
		id := TraceID(v)
		if old, ok := l.j.traceSeq[id]; ok {
			l.staleTraces = append(l.staleTraces, old)
		}
		l.j.traceSeq[id] = binary.BigEndian.Uint64(k)
		l.s.traceLocked(id)
		return nil
	})
}

// loadChunks adds the spans and logs of each chunk to its trace.
func (l *loader) loadChunks() error {
	in := interner{resources: map[string]*Resource{}, scopes: map[string]*Scope{}}
	return l.chunks.ForEach(func(k, v []byte) error {
		if len(k) != 16 {
			return fmt.Errorf("damaged file: chunk key %x", k)
		}
		c, err := decodeChunk(v, &in)
		if err != nil {
			return fmt.Errorf("damaged file: chunk %x: %w", k, err)
		}
		e := l.s.traces[c.trace]
		if seq, ok := l.j.traceSeq[c.trace]; !ok || seq != binary.BigEndian.Uint64(k) || e == nil {
			l.staleChunks = append(l.staleChunks, bytes.Clone(k))
			return nil
		}
		t := e.Value.(*trace)
		t.spans = slices.Grow(t.spans, len(c.spans))
		// A trace evicted for the bounds while loading stays out.
		for i := 0; i < len(c.spans) && l.s.traces[c.trace] != nil; i++ {
			l.s.addSpanLocked(c.spans[i])
		}
		for i := 0; i < len(c.logs) && l.s.traces[c.trace] != nil; i++ {
			l.s.addLogLocked(c.logs[i])
		}
		return nil
	})
}

// loadRecords publishes the file's records in s, oldest first. A record
// is its key's: one that names another id is a damaged file.
func (l *loader) loadRecords() error {
	type seqRecord struct {
		seq uint64
		rec *Record
	}
	var recs []seqRecord
	err := l.records.ForEach(func(k, v []byte) error {
		r := new(Record)
		sr := storedRecord{Record: r}
		if len(v) < 8 {
			return fmt.Errorf("damaged file: record %q", k)
		}
		if err := json.Unmarshal(v[8:], &sr); err != nil {
			return fmt.Errorf("damaged file: record %q: %w", k, err)
		}
		if r.ID != string(k) {
			return fmt.Errorf("damaged file: record %q holds record %q", k, r.ID)
		}
		if sr.TraceID != "" {
			if err := r.TraceID.UnmarshalText([]byte(sr.TraceID)); err != nil {
				return fmt.Errorf("damaged file: record %q: %w", k, err)
			}
		}
		if !r.Done {
			r.Done, r.Error = true, interrupted
		}
		seq := binary.BigEndian.Uint64(v)
		l.j.recSeq[string(k)] = seq
		recs = append(recs, seqRecord{seq, r})
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(recs, func(a, b seqRecord) int { return cmp.Compare(a.seq, b.seq) })
	for _, r := range recs {
		l.s.putRequestLocked(r.rec, false)
	}
	return nil
}

// deleteStale deletes from the file what the bounds left out of s, and
// what was left over.
func (l *loader) deleteStale() error {
	for _, k := range l.staleChunks {
		if err := l.chunks.Delete(k); err != nil {
			return err
		}
	}
	for id, seq := range l.j.traceSeq {
		if l.s.traces[id] == nil {
			delete(l.j.traceSeq, id)
			l.staleTraces = append(l.staleTraces, seq)
		}
	}
	for _, seq := range l.staleTraces {
		if err := deleteTrace(l.traces, l.chunks, seq); err != nil {
			return err
		}
	}
	for id := range l.j.recSeq {
		if l.s.records[id] == nil {
			delete(l.j.recSeq, id)
			if err := l.records.Delete([]byte(id)); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkFormat creates the buckets of a new file, and refuses a file that
// another program or another format of Tracebar's wrote.
func checkFormat(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		empty := true
		tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
		if !empty {
			return errors.New("a bbolt database of another program, not a Tracebar storage file")
		}
		var err error
		for _, name := range [][]byte{bucketMeta, bucketTraces, bucketChunks, bucketRecords} {
			if _, e := tx.CreateBucket(name); e != nil {
				err = errors.Join(err, e)
			}
		}
		if err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyFormat, []byte(storageFormat))
	}
	if f := meta.Get(keyFormat); string(f) != storageFormat {
		return fmt.Errorf("storage format %q, this Tracebar reads %q", f, storageFormat)
	}
	for _, name := range [][]byte{bucketTraces, bucketChunks, bucketRecords} {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("damaged file: no %s bucket", name)
		}
	}
	return nil
}

// UnmarshalJSON reads what MarshalJSON writes, {"Name": ["value", ...]},
// fields sorted by name, for the storage file's records.
func (h *Headers) UnmarshalJSON(b []byte) error {
	var m map[string][]string
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if m == nil {
		*h = nil
		return nil
	}
	out := make(Headers, 0, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		for _, v := range m[name] {
			out = append(out, HeaderField{name, v})
		}
	}
	*h = out
	return nil
}
