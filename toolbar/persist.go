package toolbar

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// A storage file is a bbolt database with four buckets:
//
//	meta     "format" → storageFormat
//	traces   trace seq (8 bytes, big endian) → trace id: the traces in the
//	         order the Store made them, records' traces without spans too
//	chunks   trace seq + chunk seq → the spans and logs of the trace that
//	         one commit added (persist_codec.go)
//	records  record id → record seq (8 bytes) + the record as JSON
//
// The Store stays the read path: the file is written through (a journal
// of what the Store accepted and evicted, in its order) and read once, at
// start-up, to fill the Store again. AddSpans and AddLogs return once
// their items, and all that the Store accepted before, are committed: the
// sink acknowledges an export after they return, and an acknowledgement
// covers what came before it. Records (PutRequest) and the proxy's own
// spans (AddProxySpans) go into the next commit without waiting for it:
// no one acknowledges them, and no proxied request should wait for the
// disk.
var (
	bucketMeta    = []byte("meta")
	bucketTraces  = []byte("traces")
	bucketChunks  = []byte("chunks")
	bucketRecords = []byte("records")
	keyFormat     = []byte("format")
)

// storageFormat names the layout above; a file with another is refused.
const storageFormat = "tracebar storage 1"

// lockTimeout bounds the wait for the file's lock (bbolt's flock): another
// process that holds it is an error, not a hang.
const lockTimeout = 2 * time.Second

// OpenStore returns a Store bounded by l that also keeps its records, spans
// and logs in the file at path (created if missing), filled from it first:
// the oldest traces and records beyond l are dropped from memory and from
// the file. Only one process may hold the file. onError, if not nil, hears
// of commits that fail later; the Store goes on in memory. Close it when
// done.
func OpenStore(path string, l Limits, onError func(error)) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("storage %s: another process holds the file (another Caddy?); not released within %s", path, lockTimeout)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("storage %s: %w", path, err)
	case err != nil:
		return nil, fmt.Errorf("storage %s: not a Tracebar storage file, or a damaged one: %w", path, err)
	}
	s := NewStore(l)
	j := &journal{db: db, onError: onError, traceSeq: map[TraceID]uint64{}, recSeq: map[string]uint64{}}
	if err := j.load(s); err != nil {
		db.Close()
		return nil, fmt.Errorf("storage %s: %w", path, err)
	}
	j.next = newCommit()
	j.cond = sync.NewCond(&j.mu)
	j.stopped = make(chan struct{})
	s.disk = j
	go j.run()
	return s, nil
}

// Close commits what the store accepted and closes its storage file, if
// it has one. The store goes on in memory only.
func (s *Store) Close() error {
	s.mu.Lock()
	j := s.disk
	s.disk = nil
	s.mu.Unlock()
	if j == nil {
		return nil
	}
	j.mu.Lock()
	j.closed = true
	j.cond.Signal()
	j.mu.Unlock()
	<-j.stopped
	return j.db.Close()
}

// journal writes what the Store accepts to its file. The Store calls its
// methods under its lock, so the operations queue in the Store's order; a
// goroutine commits all that queued while the previous commit ran, in one
// transaction (a group commit). Not bbolt's DB.Batch (go.etcd.io/bbolt
// db.go): it keeps no order between callers, where a trace evicted and
// made again by a late span must be deleted before its new spans are
// written, it may run a function twice, and it waits up to MaxBatchDelay
// (10 ms) before it commits.
type journal struct {
	db      *bolt.DB
	onError func(error)

	mu      sync.Mutex
	cond    *sync.Cond // signalled when next gains operations, or on close
	next    *commit    // queuing
	last    *commit    // committing, or committed last
	closed  bool
	stopped chan struct{} // closed when run returns
	failed  atomic.Uint64 // commits that failed

	// Used by run only (and load, before it starts).
	traceSeq map[TraceID]uint64 // the seq of each trace in the file
	recSeq   map[string]uint64  // the seq of each record
}

// commit is one group of operations; done is closed once it is durable
// (or failed, err).
type commit struct {
	ops  []op
	done chan struct{}
	err  error
}

func newCommit() *commit { return &commit{done: make(chan struct{})} }

// wait blocks until c is committed; a nil c is at once.
func (c *commit) wait() error {
	if c == nil {
		return nil
	}
	<-c.done
	return c.err
}

type opKind uint8

const (
	opTrace      opKind = iota // a trace was made
	opEvict                    // a trace was evicted whole
	opSpan                     // a span was added
	opLog                      // a log record was added
	opRecord                   // a record was published
	opDropRecord               // a record was evicted
)

type op struct {
	kind  opKind
	trace TraceID
	span  *Span      // opSpan; the Store never changes a stored span
	log   *LogRecord // opLog
	rec   *Record    // opRecord
	id    string     // opDropRecord
}

// The Store's hooks; each does nothing on a nil journal (no file).

func (j *journal) trace(id TraceID)     { j.add(op{kind: opTrace, trace: id}) }
func (j *journal) evict(id TraceID)     { j.add(op{kind: opEvict, trace: id}) }
func (j *journal) span(sp *Span)        { j.add(op{kind: opSpan, trace: sp.TraceID, span: sp}) }
func (j *journal) log(l *LogRecord)     { j.add(op{kind: opLog, trace: l.TraceID, log: l}) }
func (j *journal) record(r *Record)     { j.add(op{kind: opRecord, rec: r}) }
func (j *journal) dropRecord(id string) { j.add(op{kind: opDropRecord, id: id}) }

func (j *journal) add(o op) {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return
	}
	j.next.ops = append(j.next.ops, o)
	j.cond.Signal()
}

// AddProxySpans stores spans as AddSpans does, but returns without
// waiting for the storage file: for the proxy's own spans, which no one
// acknowledges, so that no proxied request waits for the disk. The next
// commit takes them, in order with the rest.
func (s *Store) AddProxySpans(spans []Span) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addSpansLocked(spans)
}

// unlockDurable unlocks s, then waits until all it accepted is committed.
func (s *Store) unlockDurable() {
	c := s.disk.barrier()
	s.mu.Unlock()
	c.wait()
}

// failures returns how many commits failed.
func (j *journal) failures() uint64 {
	if j == nil {
		return 0
	}
	return j.failed.Load()
}

// barrier returns the commit that makes durable all that was queued so
// far, or nil when nothing is pending.
func (j *journal) barrier() *commit {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.next.ops) > 0 {
		return j.next
	}
	return j.last
}

// run commits the queued operations until the journal is closed and all
// are committed.
func (j *journal) run() {
	defer close(j.stopped)
	for {
		j.mu.Lock()
		for len(j.next.ops) == 0 && !j.closed {
			j.cond.Wait()
		}
		c := j.next
		if len(c.ops) == 0 { // closed, and all committed
			j.mu.Unlock()
			return
		}
		j.next, j.last = newCommit(), c
		j.mu.Unlock()

		c.err = j.db.Update(func(tx *bolt.Tx) error { return j.apply(tx, c.ops) })
		if c.err != nil {
			// The sequences the failed transaction handed out were
			// rolled back with it: take the file's again.
			c.err = errors.Join(fmt.Errorf("storage: commit: %w", c.err), j.db.View(j.readSeqs))
			j.report(c.err)
		}
		c.ops = nil
		close(c.done)
	}
}

// apply writes ops in one transaction: the spans and logs one trace gains
// become one chunk.
func (j *journal) apply(tx *bolt.Tx, ops []op) error {
	traces, chunks, records := tx.Bucket(bucketTraces), tx.Bucket(bucketChunks), tx.Bucket(bucketRecords)
	var (
		added = map[uint64]*chunk{}
		order []uint64 // trace seqs in the order they gained items
	)
	newTrace := func(id TraceID) (uint64, error) {
		seq, err := traces.NextSequence()
		if err == nil {
			j.traceSeq[id] = seq
			err = traces.Put(u64(seq), id[:])
		}
		return seq, err
	}
	for _, o := range ops {
		var err error
		switch o.kind {
		case opTrace:
			_, err = newTrace(o.trace)
		case opEvict:
			seq, ok := j.traceSeq[o.trace]
			if !ok {
				break
			}
			delete(j.traceSeq, o.trace)
			delete(added, seq)
			err = deleteTrace(traces, chunks, seq)
		case opSpan, opLog:
			seq, ok := j.traceSeq[o.trace]
			if !ok { // made in a commit that failed
				if seq, err = newTrace(o.trace); err != nil {
					break
				}
			}
			c := added[seq]
			if c == nil {
				c = &chunk{trace: o.trace}
				added[seq] = c
				order = append(order, seq)
			}
			if o.span != nil {
				c.spans = append(c.spans, *o.span)
			} else {
				c.logs = append(c.logs, *o.log)
			}
		case opRecord:
			err = j.putRecord(records, o.rec)
		case opDropRecord:
			delete(j.recSeq, o.id)
			err = records.Delete([]byte(o.id))
		}
		if err != nil {
			return err
		}
	}
	for _, seq := range order {
		c, ok := added[seq]
		if !ok { // evicted in this commit
			continue
		}
		n, err := chunks.NextSequence()
		if err != nil {
			return err
		}
		if err := chunks.Put(append(u64(seq), u64(n)...), c.encode()); err != nil {
			return err
		}
	}
	return nil
}

// report counts a failure and tells onError.
func (j *journal) report(err error) {
	j.failed.Add(1)
	if j.onError != nil {
		j.onError(err)
	}
}

// putRecord writes r, or reports and skips one it cannot, so that a bad
// record fails no commit of acknowledged spans.
func (j *journal) putRecord(records *bolt.Bucket, r *Record) error {
	b, err := json.Marshal(storedRecord{r, traceIDText(r.TraceID)})
	if err == nil && (r.ID == "" || len(r.ID) > bolt.MaxKeySize) {
		err = errors.New("not a key")
	}
	if err != nil {
		j.report(fmt.Errorf("storage: record %q skipped: %w", r.ID, err))
		return nil
	}
	seq, ok := j.recSeq[r.ID]
	if !ok {
		if seq, err = records.NextSequence(); err != nil {
			return err
		}
		j.recSeq[r.ID] = seq
	}
	return records.Put([]byte(r.ID), append(u64(seq), b...))
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

// readSeqs sets the journal's sequences from the file.
func (j *journal) readSeqs(tx *bolt.Tx) error {
	clear(j.traceSeq)
	clear(j.recSeq)
	err := tx.Bucket(bucketTraces).ForEach(func(k, v []byte) error {
		j.traceSeq[TraceID(v)] = binary.BigEndian.Uint64(k)
		return nil
	})
	if err != nil {
		return err
	}
	return tx.Bucket(bucketRecords).ForEach(func(k, v []byte) error {
		j.recSeq[string(k)] = binary.BigEndian.Uint64(v)
		return nil
	})
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 16), n) }
