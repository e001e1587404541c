package toolbar

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// What the storage file does when it cannot keep up or cannot be
// written: nothing acknowledged is lost without the sender hearing of it,
// and what was not written is written when sent again.

// faultyStore is a store on a file whose commits fail while broken.
type faultyStore struct {
	*Store
	path string
	mu   sync.Mutex
	errs []error
	told chan error // every error the store reports, as it does
}

// openFaulty opens a store whose journal waits on after between failed
// commits.
func openFaulty(t *testing.T, o StorageOptions) *faultyStore {
	t.Helper()
	f := &faultyStore{path: filepath.Join(t.TempDir(), "tracebar.db"), told: make(chan error, 100)}
	o.OnError = func(err error) {
		f.mu.Lock()
		f.errs = append(f.errs, err)
		f.mu.Unlock()
		select {
		case f.told <- err:
		default:
		}
	}
	s, err := OpenStore(f.path, Limits{}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f.Store = s
	return f
}

// update runs fn in a transaction of the store's file.
func (f *faultyStore) update(t *testing.T, fn func(*bolt.Tx) error) {
	t.Helper()
	if err := f.disk.db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// breakFile makes every commit fail until mend: the chunks bucket is gone.
func (f *faultyStore) breakFile(t *testing.T) {
	f.update(t, func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketChunks) })
}

func (f *faultyStore) mend(t *testing.T) {
	f.update(t, func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucketChunks); return err })
}

// waitTold waits until the store reports an error holding want.
func (f *faultyStore) waitTold(t *testing.T, want string) {
	t.Helper()
	for err := range f.told {
		if strings.Contains(err.Error(), want) {
			return
		}
	}
}

// chunksOf returns how many chunks of trace id the file holds.
func (f *faultyStore) chunksOf(t *testing.T, id TraceID) int {
	t.Helper()
	n := 0
	err := f.disk.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketChunks).ForEach(func(k, v []byte) error {
			c, err := decodeChunk(v, nil)
			if err == nil && c.trace == id {
				n++
			}
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStorageWritesAFailedCommitNext: a commit that fails is AddSpans'
// error; the spans stay in memory and go into the next commit, which the
// export sent again waits for, with what came meanwhile.
func TestStorageWritesAFailedCommitNext(t *testing.T) {
	retry := make(chan time.Time)
	f := openFaulty(t, StorageOptions{after: func(time.Duration) <-chan time.Time { return retry }})
	f.breakFile(t)
	export := []Span{{TraceID: tid(1), SpanID: sid(1)}, {TraceID: tid(1), SpanID: sid(2)}}
	if n, _, err := f.AddSpans(export); err == nil || n != 2 || !strings.Contains(err.Error(), "storage: commit") {
		t.Fatalf("AddSpans on a failing file stored %d, error %v; want 2 stored and the commit's error", n, err)
	}
	if spans, _ := f.Spans(tid(1), 0); len(spans) != 2 {
		t.Fatalf("%d spans in memory after the failed commit, want 2", len(spans))
	}
	f.AddProxySpans([]Span{{TraceID: tid(2), SpanID: sid(1)}}) // while the journal waits to retry
	f.mend(t)
	close(retry)
	if n, dups, err := f.AddSpans(export); err != nil || n != 0 || dups != 2 {
		t.Fatalf("the export sent again: stored %d, %d duplicates, error %v; want 2 duplicates, committed", n, dups, err)
	}
	for _, id := range []TraceID{tid(1), tid(2)} {
		if !inFile(t, f.Store, id) {
			t.Errorf("trace %s not in the file after the next commit", id)
		}
	}
	if st := f.Stats(); st.StorageErrors != 1 || st.StorageDropped != 0 {
		t.Errorf("stats %+v, want 1 storage error, nothing dropped", st)
	}
	s := reopen(t, f.Store, f.path, Limits{})
	if spans, _ := s.Spans(tid(1), 0); len(spans) != 2 {
		t.Errorf("%d spans of the retried export after a reload, want 2", len(spans))
	}
}

// TestStorageDropsAfterFailedCommitsAndWritesASpanSentAgain: after
// maxAttempts failed commits in a row, the journal drops what it holds,
// counts and reports it; a dropped span sent again is written, once.
func TestStorageDropsAfterFailedCommitsAndWritesASpanSentAgain(t *testing.T) {
	now := make(chan time.Time)
	close(now)
	f := openFaulty(t, StorageOptions{after: func(time.Duration) <-chan time.Time { return now }})
	f.breakFile(t)
	export := []Span{{TraceID: tid(1), SpanID: sid(1)}}
	if _, _, err := f.AddSpans(export); err == nil {
		t.Fatal("AddSpans on a failing file returned no error")
	}
	f.PutRequest(&Record{ID: "r1", TraceID: tid(1)})
	f.waitTold(t, fmt.Sprintf("after %d failed commits in a row", maxAttempts))
	st := f.Stats()
	if st.StorageErrors < maxAttempts || st.StorageDropped == 0 {
		t.Fatalf("stats %+v, want %d storage errors and the items dropped", st, maxAttempts)
	}
	f.mend(t)
	if _, _, err := f.AddSpans(export); err != nil {
		t.Fatalf("the export sent again: %v", err)
	}
	if n := f.chunksOf(t, tid(1)); n != 1 {
		t.Fatalf("%d chunks of the span sent again, want 1", n)
	}
	// Written once: a further copy is a duplicate like any other.
	if _, _, err := f.AddSpans(export); err != nil {
		t.Fatal(err)
	}
	if n := f.chunksOf(t, tid(1)); n != 1 {
		t.Errorf("%d chunks after the span came a third time, want 1", n)
	}
}

// TestStorageBoundsWhatWaitsForTheFile: while a commit stalls, items
// beyond MaxPending are kept in memory only, counted and reported;
// AddSpans says so at once, and a span sent again is written.
func TestStorageBoundsWhatWaitsForTheFile(t *testing.T) {
	f := openFaulty(t, StorageOptions{MaxPending: 2})
	holding, release := make(chan struct{}), make(chan struct{})
	stalled := make(chan error, 1)
	go func() {
		stalled <- f.disk.db.Update(func(*bolt.Tx) error { close(holding); <-release; return nil })
	}()
	<-holding

	f.AddProxySpans([]Span{{TraceID: tid(1), SpanID: sid(1)}, {TraceID: tid(1), SpanID: sid(2)}, {TraceID: tid(1), SpanID: sid(3)}})
	_, _, err := f.AddSpans([]Span{{TraceID: tid(2), SpanID: sid(1)}})
	if err == nil || !strings.Contains(err.Error(), "1 items not written") {
		t.Errorf("AddSpans beyond the bound: %v, want an error saying its span was not written", err)
	}
	f.PutRequest(&Record{ID: "r", TraceID: tid(2)})
	if st := f.Stats(); st.StorageDropped != 3 || st.Spans != 4 || st.Records != 1 {
		t.Errorf("stats %+v, want 3 items dropped, all 4 spans and the record in memory", st)
	}

	close(release)
	if err := <-stalled; err != nil {
		t.Fatal(err)
	}
	f.waitTold(t, "3 items not written")
	if _, _, err := f.AddSpans(nil); err != nil { // waits for what was queued
		t.Fatal(err)
	}
	// Sent again, the dropped spans are written; the others are not again.
	if _, _, err := f.AddSpans([]Span{{TraceID: tid(2), SpanID: sid(1)}, {TraceID: tid(1), SpanID: sid(3)}, {TraceID: tid(1), SpanID: sid(1)}}); err != nil {
		t.Fatalf("spans sent again: %v", err)
	}
	s := reopen(t, f.Store, f.path, Limits{})
	for id, want := range map[TraceID]int{tid(1): 3, tid(2): 1} {
		if spans, _ := s.Spans(id, 0); len(spans) != want {
			t.Errorf("trace %s: %d spans after a reload, want %d", id, len(spans), want)
		}
	}
	if st := s.Stats(); st.Spans != 4 {
		t.Errorf("%d spans after a reload, want 4 (none written twice)", st.Spans)
	}
}

// TestStorageCloseEndsWhileCommitsFail: Close tries once more, then drops
// what cannot be written instead of waiting for the file.
func TestStorageCloseEndsWhileCommitsFail(t *testing.T) {
	never := func(time.Duration) <-chan time.Time { return nil }
	f := openFaulty(t, StorageOptions{after: never})
	f.breakFile(t)
	f.AddProxySpans([]Span{{TraceID: tid(1), SpanID: sid(1)}})
	f.waitTold(t, "storage: commit")
	j := f.disk
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, dropped := j.counts(); dropped != 1 {
		t.Errorf("%d items dropped, want the span", dropped)
	}
	if spans, _ := f.Spans(tid(1), 0); len(spans) != 1 {
		t.Error("the span left memory")
	}
}

// TestOpenStorageKeepsWhatTheStoreHeld: a store that took requests and
// spans before its file opened (Caddy's Start) keeps them after the
// file's, writes them to it, and its streams go on.
func TestOpenStorageKeepsWhatTheStoreHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracebar.db")
	closed(t, path) // trace 1 with record "a"

	s := NewStore(Limits{})
	s.AddSpans([]Span{{TraceID: tid(2), SpanID: sid(1)}, {TraceID: tid(1), SpanID: sid(2)}})
	s.PutRequest(&Record{ID: "b", TraceID: tid(2)})
	ch, cancel, _ := s.Subscribe(tid(2))
	defer cancel()
	if err := s.OpenStorage(path, StorageOptions{OnError: func(err error) { t.Errorf("storage error: %v", err) }}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	check := func(s *Store) {
		t.Helper()
		var ids []string
		for _, r := range s.Requests(0) {
			ids = append(ids, r.ID)
		}
		if !slices.Equal(ids, []string{"b", "a"}) {
			t.Errorf("records newest first %v, want [b a]", ids)
		}
		for id, want := range map[TraceID]int{tid(1): 2, tid(2): 1} {
			if spans, _ := s.Spans(id, 0); len(spans) != want {
				t.Errorf("trace %s: %d spans, want %d", id, len(spans), want)
			}
		}
	}
	check(s)
	if _, ok := <-ch; !ok {
		t.Fatal("the stream of a trace the store held was closed")
	}
	s.AddSpans([]Span{{TraceID: tid(2), SpanID: sid(3)}})
	if _, ok := <-ch; !ok {
		t.Fatal("the stream heard nothing of a new span")
	}
	if err := s.OpenStorage(path, StorageOptions{}); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("a second file: %v, want refused", err)
	}
	s = reopen(t, s, path, Limits{})
	if spans, _ := s.Spans(tid(2), 0); len(spans) != 2 {
		t.Errorf("trace 2: %d spans after a reload, want 2", len(spans))
	}
}

// TestBackgroundRecordIsInTheCommitOfItsSpans: AddSpansWithRoots returns
// once the root's record is in the file with the spans.
func TestBackgroundRecordIsInTheCommitOfItsSpans(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracebar.db")
	s := openTestStore(t, path, Limits{})
	added, err := s.AddSpansWithRoots([]Span{{TraceID: tid(1), SpanID: sid(1), Name: "cleanup"}}, BackgroundRoots)
	if err != nil || !slices.Equal(added.Records, []string{sid(1).String()}) {
		t.Fatalf("added %+v, %v; want the root's record", added, err)
	}
	var stored []byte
	s.disk.db.View(func(tx *bolt.Tx) error {
		stored = slices.Clone(tx.Bucket(bucketRecords).Get([]byte(sid(1).String())))
		return nil
	})
	if !strings.Contains(string(stored), `"kind":"background"`) {
		t.Errorf("record in the file %q, want the background record", stored)
	}
}
