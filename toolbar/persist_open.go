package toolbar

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// StorageOptions tune a store's storage file (OpenStore, OpenStorage).
// The zero value means the defaults.
type StorageOptions struct {
	// OnError, if not nil, hears of what goes wrong once the file is
	// open: a commit that failed, and items that were never written. The
	// store goes on in memory.
	OnError func(error)
	// LockTimeout bounds the wait for the file's lock (bbolt's flock):
	// another process that holds the file is an error, not a hang.
	// Default DefaultLockTimeout.
	LockTimeout time.Duration
	// MaxPending bounds the spans, log records and records waiting for a
	// commit (queued, or in the commit that runs). An item beyond it is
	// kept in memory only, counted in Stats.StorageDropped and reported.
	// Default: the store's Spans limit, so that no more items wait for
	// the disk than the store itself holds.
	MaxPending int

	// after stands in for time.After in the journal's waits between
	// failed commits; nil is time.After. For tests.
	after func(time.Duration) <-chan time.Time
}

// DefaultLockTimeout is StorageOptions.LockTimeout's default.
const DefaultLockTimeout = 2 * time.Second

// OpenStore returns a Store bounded by l that also keeps its records,
// spans and logs in the file at path: NewStore, then OpenStorage.
func OpenStore(path string, l Limits, o StorageOptions) (*Store, error) {
	s := NewStore(l)
	if err := s.OpenStorage(path, o); err != nil {
		return nil, err
	}
	return s, nil
}

// OpenStorage makes s keep its records, spans and logs in the file at
// path (created if missing), filled from it first: the oldest traces and
// records beyond s's bounds are dropped from memory and from the file.
// What s held already is kept too, as newer than the file's, and written
// to it: a request proxied while Caddy started. Only one process may hold
// the file, and s one file. Close it when done.
func (s *Store) OpenStorage(path string, o StorageOptions) error {
	errHasOne := fmt.Errorf("storage %s: the store keeps a storage file already", path)
	s.mu.Lock()
	hasOne := s.disk != nil
	s.mu.Unlock()
	if hasOne {
		return errHasOne
	}
	lockTimeout := o.LockTimeout
	if lockTimeout <= 0 {
		lockTimeout = DefaultLockTimeout
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return fmt.Errorf("storage %s: another process holds the file (another Caddy?); not released within %s", path, lockTimeout)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("storage %s: %w", path, err)
	case err != nil:
		return fmt.Errorf("storage %s: not a Tracebar storage file, or a damaged one: %w", path, err)
	}
	j := newJournal(db, o, s.limits)
	j.storeMu = &s.mu
	// The file fills a store of its own, so that s serves on meanwhile.
	loaded := NewStore(s.limits)
	if err := j.load(loaded); err != nil {
		db.Close()
		return fmt.Errorf("storage %s: %w", path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.disk != nil { // opened meanwhile
		db.Close()
		return errHasOne
	}
	s.adoptLocked(loaded, j)
	go j.run()
	return nil
}

func newJournal(db *bolt.DB, o StorageOptions, l Limits) *journal {
	j := &journal{
		db: db, onError: o.OnError, maxPending: o.MaxPending, after: o.after,
		next: newCommit(), lost: map[TraceID]map[SpanID]struct{}{}, lostRecs: map[string]struct{}{},
		closing: make(chan struct{}), stopped: make(chan struct{}),
		traceSeq: map[TraceID]uint64{}, recSeq: map[string]uint64{},
	}
	if j.maxPending <= 0 {
		j.maxPending = l.withDefaults().Spans
	}
	if j.after == nil {
		j.after = time.After
	}
	j.cond = sync.NewCond(&j.mu)
	return j
}

// adoptLocked makes what loaded holds (read from j's file) s's, then
// adds to it what s held before, through j: the file's items are older.
// The subscribers of s's traces follow them (or hear that they are gone).
func (s *Store) adoptLocked(loaded *Store, j *journal) {
	held, heldRecs := s.order, s.recOrder
	s.traces, s.order, s.records, s.recOrder = loaded.traces, loaded.order, loaded.records, loaded.recOrder
	s.spanCount, s.logCount, s.bytes = loaded.spanCount, loaded.logCount, loaded.bytes
	s.evicted += loaded.evicted
	s.dropped += loaded.dropped
	s.disk = j
	for e := held.Front(); e != nil; e = e.Next() {
		t := e.Value.(*trace)
		s.traceLocked(t.id)
		for _, sp := range t.spans {
			s.addSpanLocked(sp)
		}
		for _, l := range t.logs {
			s.addLogLocked(l)
		}
	}
	for e := heldRecs.Front(); e != nil; e = e.Next() {
		s.putRequestLocked(e.Value.(*Record), false)
	}
	for e := held.Front(); e != nil; e = e.Next() {
		old := e.Value.(*trace)
		now, ok := s.traces[old.id]
		for ch := range old.subs {
			if !ok {
				close(ch)
				continue
			}
			t := now.Value.(*trace)
			if t.subs == nil {
				t.subs = map[chan struct{}]struct{}{}
			}
			t.subs[ch] = struct{}{}
			select { // the file may have given the trace spans
			case ch <- struct{}{}:
			default:
			}
		}
	}
	notify(s.reqSubs)
}

// Close commits what the store accepted and closes its storage file, if
// it has one; a commit that fails then is not retried. The store goes on
// in memory only.
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
	close(j.closing)
	j.cond.Signal()
	j.mu.Unlock()
	<-j.stopped
	return j.db.Close()
}
