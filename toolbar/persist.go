package toolbar

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
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
// start-up, to fill the Store again.
//
// AddSpans and AddLogs return once their items, and all that the Store
// accepted before, are committed, or with an error when that commit
// failed: the sink acknowledges an export only after they return without
// one, and an acknowledgement covers what came before it. Records
// (PutRequest) and the proxy's own spans (AddProxySpans) go into the next
// commit without waiting for it: no one acknowledges them, and no proxied
// request should wait for the disk.
//
// A commit that fails leaves the Store as it is (the items stay in
// memory) and its operations at the front of the queue: the next commit
// writes them first, after a pause that grows with each failure in a row.
// After maxAttempts failures in a row the operations are dropped, so that
// a file that cannot be written holds no memory for ever; so are items
// beyond StorageOptions.MaxPending. Both are counted (Stats) and reported,
// and a dropped span is written when it is stored again: the export that
// was told of the failure and sent again.
var (
	bucketMeta    = []byte("meta")
	bucketTraces  = []byte("traces")
	bucketChunks  = []byte("chunks")
	bucketRecords = []byte("records")
	keyFormat     = []byte("format")
)

// storageFormat names the layout above; a file with another is refused.
const storageFormat = "tracebar storage 1"

// The pause after a failed commit: retryFirst after the first, twice the
// last after each further one, at most retryMax. maxAttempts commits in
// a row fail before the journal drops what it holds (some 4 s of pauses).
const (
	retryFirst  = 50 * time.Millisecond
	retryMax    = time.Second
	maxAttempts = 8
)

// journal writes what the Store accepts to its file. The Store calls its
// methods under its lock, so the operations queue in the Store's order; a
// goroutine commits all that queued while the previous commit ran, in one
// transaction (a group commit). Not bbolt's DB.Batch (go.etcd.io/bbolt
// db.go): it keeps no order between callers, where a trace evicted and
// made again by a late span must be deleted before its new spans are
// written, it may run a function twice, and it waits up to MaxBatchDelay
// (10 ms) before it commits.
type journal struct {
	db         *bolt.DB
	onError    func(error)
	maxPending int
	after      func(time.Duration) <-chan time.Time
	storeMu    sync.Locker // the Store's lock, under which operations queue

	mu      sync.Mutex
	cond    *sync.Cond // signalled when next gains operations, or on close
	next    *commit    // queuing
	last    *commit    // committing, or committed last
	pending int        // items (spans, logs, records) queued or committing
	// lost holds the spans whose writes were dropped, by trace, until
	// they are stored again or their trace is evicted; lostRecs the
	// records, until they are published again or evicted.
	lost       map[TraceID]map[SpanID]struct{}
	lostRecs   map[string]struct{}
	unreported int // items refused since the last report
	closed     bool
	closing    chan struct{} // closed on close: ends a pause
	stopped    chan struct{} // closed when run returns

	failed  atomic.Uint64 // commits that failed
	dropped atomic.Uint64 // items never written: refused, skipped, or given up
	refused atomic.Uint64 // of dropped, those beyond maxPending (counted under the Store's lock)

	// Used by run only (and load, before it starts).
	traceSeq map[TraceID]uint64 // the seq of each trace in the file
	recSeq   map[string]uint64  // the seq of each record
	failures int                // commits that failed in a row
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

// item reports whether o writes an item (a span, log or record), which
// counts against maxPending; the others keep the file's traces and
// records in step with the Store's.
func (o op) item() bool { return o.kind == opSpan || o.kind == opLog || o.kind == opRecord }

// The Store's hooks; each does nothing on a nil journal (no file).

func (j *journal) trace(id TraceID)     { j.add(op{kind: opTrace, trace: id}) }
func (j *journal) evict(id TraceID)     { j.add(op{kind: opEvict, trace: id}) }
func (j *journal) span(sp *Span)        { j.add(op{kind: opSpan, trace: sp.TraceID, span: sp}) }
func (j *journal) log(l *LogRecord)     { j.add(op{kind: opLog, trace: l.TraceID, log: l}) }
func (j *journal) record(r *Record)     { j.add(op{kind: opRecord, rec: r}) }
func (j *journal) dropRecord(id string) { j.add(op{kind: opDropRecord, id: id}) }

// spanAgain writes sp, a span the Store holds already, if its write was
// dropped: an export sent again after it was told of the failure.
func (j *journal) spanAgain(sp Span) {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	spans := j.lost[sp.TraceID]
	if _, ok := spans[sp.SpanID]; !ok {
		return
	}
	delete(spans, sp.SpanID)
	if len(spans) == 0 {
		delete(j.lost, sp.TraceID)
	}
	j.addLocked(op{kind: opSpan, trace: sp.TraceID, span: &sp})
}

// recordAgain writes r, a record the Store holds already, if its write
// was dropped: the record of a root span sent again (AddSpansWithRoots).
func (j *journal) recordAgain(r *Record) {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.lostRecs[r.ID]; ok {
		j.addLocked(op{kind: opRecord, rec: r})
	}
}

func (j *journal) add(o op) {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.addLocked(o)
}

func (j *journal) addLocked(o op) {
	if j.closed {
		return
	}
	switch {
	case o.kind == opEvict:
		delete(j.lost, o.trace)
	case o.kind == opDropRecord:
		delete(j.lostRecs, o.id)
	case o.item() && j.pending >= j.maxPending:
		j.refused.Add(1)
		j.dropped.Add(1)
		j.unreported++
		j.loseLocked(o)
		return
	case o.item():
		j.pending++
		if o.kind == opRecord {
			delete(j.lostRecs, o.rec.ID) // this write covers the one dropped
		}
	}
	j.next.ops = append(j.next.ops, o)
	j.cond.Signal()
}

// loseLocked remembers a span or record whose write is dropped.
func (j *journal) loseLocked(o op) {
	switch o.kind {
	case opRecord:
		j.lostRecs[o.rec.ID] = struct{}{}
		return
	case opDropRecord:
		delete(j.lostRecs, o.id)
		return
	case opEvict:
		delete(j.lost, o.trace)
		return
	case opSpan:
	default:
		return
	}
	spans := j.lost[o.trace]
	if spans == nil {
		spans = map[SpanID]struct{}{}
		j.lost[o.trace] = spans
	}
	spans[o.span.SpanID] = struct{}{}
}

// AddProxySpans stores spans as AddSpans does, but returns without
// waiting for the storage file: for the proxy's own spans, which no one
// acknowledges, so that no proxied request waits for the disk. The next
// commit takes them, in order with the rest, unless the file is too far
// behind (StorageOptions.MaxPending): then they are kept in memory only,
// counted and reported.
func (s *Store) AddProxySpans(spans []Span) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addSpansLocked(spans)
}

// refusals returns how many items the journal refused for maxPending; the
// Store reads it under its lock, before and after it adds, to learn
// whether some of its own were.
func (j *journal) refusals() uint64 {
	if j == nil {
		return 0
	}
	return j.refused.Load()
}

// unlockDurable unlocks s, then waits until all it accepted is committed.
// It returns an error when that commit failed, or at once when the file
// refused some of what the caller added (refusals were refusedBefore).
func (s *Store) unlockDurable(refusedBefore uint64) error {
	j := s.disk
	if n := j.refusals() - refusedBefore; n > 0 {
		s.mu.Unlock()
		return fmt.Errorf("storage: %d items not written, the file being %d items behind (kept in memory)", n, j.maxPending)
	}
	c := j.barrier()
	s.mu.Unlock()
	return c.wait()
}

// counts returns how many commits failed and how many items were never
// written.
func (j *journal) counts() (failed, dropped uint64) {
	if j == nil {
		return 0, 0
	}
	return j.failed.Load(), j.dropped.Load()
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
// are committed (or dropped).
func (j *journal) run() {
	defer close(j.stopped)
	for {
		c := j.take()
		if c == nil {
			return
		}
		var w *writer
		err := j.db.Update(func(tx *bolt.Tx) (err error) {
			w, err = j.write(tx, c.ops)
			return err
		})
		if err == nil {
			w.keepSeqs()
		} else {
			err = fmt.Errorf("storage: commit: %w", err)
		}
		if j.settle(c, err) {
			j.pause()
		}
	}
}

// take waits for operations and returns the commit of all that queued,
// or nil once the journal is closed and none is left.
func (j *journal) take() *commit {
	j.mu.Lock()
	for len(j.next.ops) == 0 && !j.closed {
		j.cond.Wait()
	}
	j.mu.Unlock()
	// A commit holds whole Store operations: they queue under the Store's
	// lock, so with it held none is half queued. An export's spans then
	// commit together, and its AddSpans waits on that one commit (and a
	// test that fails it knows which).
	j.storeMu.Lock()
	defer j.storeMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	c := j.next
	if len(c.ops) == 0 {
		return nil
	}
	j.next, j.last = newCommit(), c
	return c
}

// settle ends commit c, which failed if err is not nil: its operations go
// to the front of the next commit, before its waiters hear of the failure
// (one whose export is sent again then waits for them), or are dropped
// after maxAttempts failures in a row or once the journal is closed. It
// reports what went wrong, and whether run should pause before the next
// commit.
func (j *journal) settle(c *commit, err error) (retry bool) {
	var report []error
	j.mu.Lock()
	switch {
	case err == nil:
		j.failures = 0
		j.pending -= items(c.ops)
	case j.failures+1 >= maxAttempts || j.closed:
		n := j.dropLocked(c.ops)
		report = append(report, err, fmt.Errorf("storage: %d items not written after %d failed commits in a row (kept in memory)", n, j.failures+1))
		j.failures = 0
		j.last = nil // what is left to wait for was dropped
	default:
		j.failures++
		j.next.ops = append(c.ops[:len(c.ops):len(c.ops)], j.next.ops...)
		report, retry = append(report, err), true
	}
	if j.unreported > 0 {
		report = append(report, fmt.Errorf("storage: %d items not written, the file being %d items behind (kept in memory)", j.unreported, j.maxPending))
		j.unreported = 0
	}
	j.mu.Unlock()
	c.err = err
	close(c.done)
	if err != nil {
		j.failed.Add(1)
	}
	for _, err := range report {
		j.tell(err)
	}
	return retry
}

// dropLocked gives up on ops, which a commit failed to write, and returns
// how many items they held. Their spans are written if stored again,
// unless their trace was evicted meanwhile (a later operation).
func (j *journal) dropLocked(ops []op) int {
	n := items(ops)
	for _, o := range ops {
		j.loseLocked(o)
	}
	for _, o := range j.next.ops {
		switch o.kind {
		case opEvict:
			delete(j.lost, o.trace)
		case opDropRecord, opRecord: // evicted, or written anew
			delete(j.lostRecs, recordID(o))
		}
	}
	j.pending -= n
	j.dropped.Add(uint64(n))
	return n
}

// pause waits after a failed commit, less if the journal is closed.
func (j *journal) pause() {
	select {
	case <-j.after(min(retryFirst<<(j.failures-1), retryMax)):
	case <-j.closing:
	}
}

// recordID is the id of the record an opRecord or opDropRecord names.
func recordID(o op) string {
	if o.rec != nil {
		return o.rec.ID
	}
	return o.id
}

// items counts the operations of ops that write an item.
func items(ops []op) int {
	n := 0
	for _, o := range ops {
		if o.item() {
			n++
		}
	}
	return n
}

// tell passes err to onError.
func (j *journal) tell(err error) {
	if j.onError != nil {
		j.onError(err)
	}
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 16), n) }
