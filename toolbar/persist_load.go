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
		traces, chunks, records := tx.Bucket(bucketTraces), tx.Bucket(bucketChunks), tx.Bucket(bucketRecords)
		s.mu.Lock()
		defer s.mu.Unlock()
		var staleTraces []uint64 // a trace id's earlier seqs, if a commit failed
		err := traces.ForEach(func(k, v []byte) error {
			if len(k) != 8 || len(v) != len(TraceID{}) {
				return fmt.Errorf("damaged file: trace key %x", k)
			}
			if old, ok := j.traceSeq[TraceID(v)]; ok {
				staleTraces = append(staleTraces, old)
			}
			j.traceSeq[TraceID(v)] = binary.BigEndian.Uint64(k)
			s.traceLocked(TraceID(v))
			return nil
		})
		if err != nil {
			return err
		}
		in := interner{resources: map[string]*Resource{}, scopes: map[string]*Scope{}}
		var stale [][]byte // chunks of traces evicted for the bounds, or left over
		err = chunks.ForEach(func(k, v []byte) error {
			if len(k) != 16 {
				return fmt.Errorf("damaged file: chunk key %x", k)
			}
			c, err := decodeChunk(v, &in)
			if err != nil {
				return fmt.Errorf("damaged file: chunk %x: %w", k, err)
			}
			e := s.traces[c.trace]
			if seq, ok := j.traceSeq[c.trace]; !ok || seq != binary.BigEndian.Uint64(k) || e == nil {
				stale = append(stale, bytes.Clone(k))
				return nil
			}
			t := e.Value.(*trace)
			t.spans = slices.Grow(t.spans, len(c.spans))
			// A trace evicted for the bounds while loading stays out.
			for i := 0; i < len(c.spans) && s.traces[c.trace] != nil; i++ {
				s.addSpanLocked(c.spans[i])
			}
			for i := 0; i < len(c.logs) && s.traces[c.trace] != nil; i++ {
				s.addLogLocked(c.logs[i])
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := j.loadRecords(s, records); err != nil {
			return err
		}
		// Delete what the bounds left out.
		for _, k := range stale {
			if err := chunks.Delete(k); err != nil {
				return err
			}
		}
		for id, seq := range j.traceSeq {
			if s.traces[id] == nil {
				delete(j.traceSeq, id)
				staleTraces = append(staleTraces, seq)
			}
		}
		for _, seq := range staleTraces {
			if err := deleteTrace(traces, chunks, seq); err != nil {
				return err
			}
		}
		for id := range j.recSeq {
			if s.records[id] == nil {
				delete(j.recSeq, id)
				if err := records.Delete([]byte(id)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// loadRecords publishes the file's records in s, oldest first.
func (j *journal) loadRecords(s *Store, records *bolt.Bucket) error {
	type seqRecord struct {
		seq uint64
		rec *Record
	}
	var recs []seqRecord
	err := records.ForEach(func(k, v []byte) error {
		r := new(Record)
		sr := storedRecord{Record: r}
		if len(v) < 8 {
			return fmt.Errorf("damaged file: record %q", k)
		}
		if err := json.Unmarshal(v[8:], &sr); err != nil {
			return fmt.Errorf("damaged file: record %q: %w", k, err)
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
		j.recSeq[r.ID] = seq
		recs = append(recs, seqRecord{seq, r})
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(recs, func(a, b seqRecord) int { return cmp.Compare(a.seq, b.seq) })
	for _, r := range recs {
		s.putRequestLocked(r.rec, false)
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
