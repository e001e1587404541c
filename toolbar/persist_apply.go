package toolbar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// writer writes one commit's operations in its transaction: the spans and
// logs one trace gains become one chunk. The sequences it hands out and
// takes back join the journal's only once the transaction is committed
// (keepSeqs): a failed one rolls them back in the file.
type writer struct {
	j                       *journal
	traces, chunks, records *bolt.Bucket

	added map[uint64]*chunk // by trace seq
	order []uint64          // trace seqs in the order they gained items

	traceSeq  map[TraceID]uint64 // traces made in this commit
	tracesOut map[TraceID]bool   // traces deleted in this commit
	recSeq    map[string]uint64  // records first written in this commit
	recsOut   map[string]bool    // records deleted in this commit
}

// write applies ops in tx.
func (j *journal) write(tx *bolt.Tx, ops []op) (*writer, error) {
	w := &writer{
		j: j, traces: tx.Bucket(bucketTraces), chunks: tx.Bucket(bucketChunks), records: tx.Bucket(bucketRecords),
		added: map[uint64]*chunk{}, traceSeq: map[TraceID]uint64{}, tracesOut: map[TraceID]bool{},
		recSeq: map[string]uint64{}, recsOut: map[string]bool{},
	}
	if w.traces == nil || w.chunks == nil || w.records == nil {
		return nil, errors.New("damaged file: a bucket is missing")
	}
	for _, o := range ops {
		if err := w.apply(o); err != nil {
			return nil, err
		}
	}
	return w, w.writeChunks()
}

// apply writes o, or gathers it into its trace's chunk.
func (w *writer) apply(o op) error {
	switch o.kind {
	case opTrace:
		_, err := w.newTrace(o.trace)
		return err
	case opEvict:
		return w.evict(o.trace)
	case opSpan, opLog:
		return w.gather(o)
	case opRecord:
		return w.putRecord(o.rec)
	case opDropRecord:
		delete(w.recSeq, o.id)
		w.recsOut[o.id] = true
		return w.records.Delete([]byte(o.id))
	}
	return nil
}

// seq returns the seq of trace id in the file, as of this commit.
func (w *writer) seq(id TraceID) (uint64, bool) {
	if seq, ok := w.traceSeq[id]; ok {
		return seq, true
	}
	if w.tracesOut[id] {
		return 0, false
	}
	seq, ok := w.j.traceSeq[id]
	return seq, ok
}

func (w *writer) newTrace(id TraceID) (uint64, error) {
	seq, err := w.traces.NextSequence()
	if err != nil {
		return 0, err
	}
	w.traceSeq[id] = seq
	return seq, w.traces.Put(u64(seq), id[:])
}

// evict deletes trace id and its chunks, those of this commit too.
func (w *writer) evict(id TraceID) error {
	seq, ok := w.seq(id)
	if !ok {
		return nil
	}
	delete(w.traceSeq, id)
	w.tracesOut[id] = true
	delete(w.added, seq)
	return deleteTrace(w.traces, w.chunks, seq)
}

// gather adds a span or log to its trace's chunk of this commit.
func (w *writer) gather(o op) error {
	seq, ok := w.seq(o.trace)
	if !ok { // made in a commit that was dropped
		var err error
		if seq, err = w.newTrace(o.trace); err != nil {
			return err
		}
	}
	c := w.added[seq]
	if c == nil {
		c = &chunk{trace: o.trace}
		w.added[seq] = c
		w.order = append(w.order, seq)
	}
	if o.span != nil {
		c.spans = append(c.spans, *o.span)
	} else {
		c.logs = append(c.logs, *o.log)
	}
	return nil
}

// writeChunks writes the chunks gathered, each under its trace's seq.
func (w *writer) writeChunks() error {
	for _, seq := range w.order {
		c, ok := w.added[seq]
		if !ok { // evicted in this commit
			continue
		}
		n, err := w.chunks.NextSequence()
		if err != nil {
			return err
		}
		if err := w.chunks.Put(append(u64(seq), u64(n)...), c.encode()); err != nil {
			return err
		}
	}
	return nil
}

// putRecord writes r, or reports and skips one it cannot, so that a bad
// record fails no commit of acknowledged spans.
func (w *writer) putRecord(r *Record) error {
	b, err := json.Marshal(storedRecord{r, traceIDText(r.TraceID)})
	if err == nil && (r.ID == "" || len(r.ID) > bolt.MaxKeySize) {
		err = errors.New("not a key")
	}
	if err != nil {
		w.j.dropped.Add(1)
		w.j.tell(fmt.Errorf("storage: record %q skipped: %w", r.ID, err))
		return nil
	}
	seq, ok := w.recSeq[r.ID]
	if !ok && !w.recsOut[r.ID] {
		seq, ok = w.j.recSeq[r.ID]
	}
	if !ok {
		if seq, err = w.records.NextSequence(); err != nil {
			return err
		}
		w.recSeq[r.ID] = seq
		delete(w.recsOut, r.ID)
	}
	return w.records.Put([]byte(r.ID), append(u64(seq), b...))
}

// keepSeqs makes the sequences of a committed transaction the journal's.
func (w *writer) keepSeqs() {
	for id := range w.tracesOut {
		delete(w.j.traceSeq, id)
	}
	for id, seq := range w.traceSeq {
		w.j.traceSeq[id] = seq
	}
	for id := range w.recsOut {
		delete(w.j.recSeq, id)
	}
	for id, seq := range w.recSeq {
		w.j.recSeq[id] = seq
	}
}

// storedRecord is a Record as the file keeps it: its API JSON, but with a
// trace id that may be zero (an imported record's).
type storedRecord struct {
	*Record
	TraceID string `json:"traceId"` // shadows Record.TraceID
}

func traceIDText(id TraceID) string {
	if !id.IsValid() {
		return ""
	}
	return id.String()
}

// deleteTrace deletes the trace with seq and its chunks.
func deleteTrace(traces, chunks *bolt.Bucket, seq uint64) error {
	prefix := u64(seq)
	var keys [][]byte
	c := chunks.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := chunks.Delete(k); err != nil {
			return err
		}
	}
	return traces.Delete(prefix)
}
