package toolbar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openTestStore opens a store on path, closed when the test ends.
func openTestStore(t testing.TB, path string, l Limits) *Store {
	t.Helper()
	s, err := OpenStore(path, l, StorageOptions{OnError: func(err error) { t.Errorf("storage error: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// reopen closes s and opens its file again with l.
func reopen(t testing.TB, s *Store, path string, l Limits) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return openTestStore(t, path, l)
}

// everyValue holds a value of every kind, nested ones too.
var everyValue = []Value{
	{},
	StringValue("text"),
	StringValue(""),
	BoolValue(true),
	BoolValue(false),
	IntValue(math.MinInt64),
	IntValue(math.MaxInt64),
	DoubleValue(0.25),
	DoubleValue(math.Inf(-1)),
	DoubleValue(math.NaN()),
	DoubleValue(math.Copysign(0, -1)),
	BytesValue([]byte{0, 1, 255}),
	BytesValue([]byte{}),
	ArrayValue([]Value{}),
	ArrayValue([]Value{StringValue("a"), IntValue(1), ArrayValue([]Value{BoolValue(true)})}),
	ListValue([]KeyValue{}),
	ListValue([]KeyValue{{"k", ListValue([]KeyValue{{"inner", DoubleValue(2.5)}})}, {"none", Value{}}}),
}

func attrsOfEveryValue() []KeyValue {
	kvs := make([]KeyValue, len(everyValue))
	for i, v := range everyValue {
		kvs[i] = KeyValue{fmt.Sprintf("attr.%d", i), v}
	}
	return kvs
}

// testSpans returns n spans of trace tr that use every field.
func testSpans(tr TraceID, n int) []Span {
	res := &Resource{Attributes: []KeyValue{{"service.name", ValueOf("shop")}}, DroppedAttributes: 1, SchemaURL: "https://opentelemetry.io/schemas/1.26.0"}
	scope := &Scope{Name: "db", Version: "1.2", Attributes: []KeyValue{{"lib", ValueOf("pg")}}, DroppedAttributes: 2, SchemaURL: "s"}
	start := time.Unix(1_700_000_000, 123_456_789)
	spans := make([]Span, n)
	for i := range spans {
		spans[i] = Span{
			TraceID: tr, SpanID: sid(i + 1), ParentSpanID: sid(i), TraceState: "v=1", Flags: 0x301,
			Name: fmt.Sprintf("SELECT %d", i), Kind: KindClient,
			Start: start.Add(time.Duration(i) * time.Millisecond), End: start.Add(time.Duration(i+1) * time.Millisecond),
			Attributes: attrsOfEveryValue(),
			Events: []Event{
				{Time: start, Name: "exception", Attributes: []KeyValue{{"exception.message", ValueOf("boom")}}, DroppedAttributes: 3},
				{Name: "no time"},
			},
			Links:    []Link{{TraceID: tid(99), SpanID: sid(7), TraceState: "l=2", Flags: 1, Attributes: []KeyValue{{"messaging.system", ValueOf("rabbitmq")}}, DroppedAttributes: 4}},
			Status:   Status{Code: StatusError, Message: "failed"},
			Resource: res, Scope: scope,
			DroppedAttributes: 5, DroppedEvents: 6, DroppedLinks: 7,
		}
	}
	return spans
}

func testLogs(tr TraceID) []LogRecord {
	logs := make([]LogRecord, len(everyValue))
	for i, v := range everyValue {
		logs[i] = LogRecord{
			Time: time.Unix(1_700_000_001, int64(i)), ObservedTime: time.Unix(1_700_000_002, 0),
			SeverityNumber: 13, SeverityText: "WARN", Body: v, TraceID: tr, SpanID: sid(i % 2),
			Service: "shop", Attributes: []KeyValue{{"code.lineno", ValueOf(int64(i))}},
		}
	}
	logs[0].Time = time.Time{} // only an observed time
	return logs
}

// encoded compares values by their encoding: NaN equals NaN, and -0 is
// not 0.
func encoded(kvs []KeyValue) []byte {
	e := newEncoder()
	e.kvs(kvs, 0)
	return e.b
}

func TestStorageKeepsSpansLogsAndRecordsAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracebar.db")
	s := openTestStore(t, path, Limits{})
	spans := testSpans(tid(1), 40)
	// Two exports: the second's spans share the first's resource only by
	// value, as the sink's decoding leaves them.
	s.AddSpans(spans[:20])
	later := append([]Span(nil), spans[20:]...)
	res := *later[0].Resource
	for i := range later {
		later[i].Resource = &res
	}
	s.AddSpans(later)
	spans = append(spans[:20], later...)
	logs := testLogs(tid(1))
	s.AddLogs(logs)
	done := &Record{ID: "00000000000000a1", TraceID: tid(1), Method: "GET", URL: "/orders", Status: 200, Done: true,
		StartTime: time.Unix(1_700_000_000, 5), ClientRequest: Headers{{"Accept", "text/html"}, {"Cookie", Redacted}, {"X-A", "1"}, {"X-A", "2"}},
		UpstreamRequest: Headers{}, RequestBody: &Body{ContentType: "application/json", Text: `{"a":1}`, Redacted: true}}
	inFlight := &Record{ID: "00000000000000a2", TraceID: tid(2), Method: "POST", URL: "/slow", StartTime: time.Unix(1_700_000_003, 0)}
	imported := &Record{ID: "00000000000000a3", Method: "GET", URL: "/har", Done: true, Status: 204, Imported: true}
	for _, r := range []*Record{{ID: done.ID, TraceID: tid(1), Method: "GET", URL: "/orders"}, done, inFlight, imported} {
		s.PutRequest(r)
	}
	wantRecords := mustJSON(t, s.Requests(0))

	s = reopen(t, s, path, Limits{})

	got, ok := s.Spans(tid(1), 0)
	if !ok || len(got) != len(spans) {
		t.Fatalf("got %d spans (trace known: %v), want %d", len(got), ok, len(spans))
	}
	for i := range spans {
		g, w := got[i], spans[i]
		if !bytes.Equal(encoded(g.Attributes), encoded(w.Attributes)) {
			t.Errorf("span %d attributes differ:\n got %s\nwant %s", i, mustJSON(t, g.Attributes), mustJSON(t, w.Attributes))
		}
		g.Attributes, w.Attributes = nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Errorf("span %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	if got[0].Resource != got[39].Resource || got[0].Scope != got[39].Scope {
		t.Error("spans of one resource and scope do not share them after a reload")
	}
	if a, b := mustJSON(t, got), mustJSON(t, spans); a != b {
		t.Errorf("OTLP/JSON differs:\n got %s\nwant %s", a, b)
	}
	gotLogs, _ := s.Logs(tid(1), 0)
	if a, b := mustJSON(t, gotLogs), mustJSON(t, logs); a != b {
		t.Errorf("logs differ:\n got %s\nwant %s", a, b)
	}
	for i := range logs {
		if !bytes.Equal(encoded([]KeyValue{{"", gotLogs[i].Body}}), encoded([]KeyValue{{"", logs[i].Body}})) {
			t.Errorf("log %d body %#v, want %#v", i, gotLogs[i].Body, logs[i].Body)
		}
	}
	// The record in flight when the process stopped never ends.
	var recs []map[string]any
	json.Unmarshal([]byte(wantRecords), &recs)
	recs[1]["done"], recs[1]["error"] = true, interrupted
	var gotRecs []map[string]any
	json.Unmarshal([]byte(mustJSON(t, s.Requests(0))), &gotRecs)
	if a, b := mustJSON(t, gotRecs), mustJSON(t, recs); a != b {
		t.Errorf("records differ:\n got %s\nwant %s", a, b)
	}
	if got := s.TraceRequests(tid(1)); len(got) != 1 || got[0].ID != done.ID {
		t.Errorf("trace 1's records %v, want %s", got, done.ID)
	}
	if st := s.Stats(); st.Traces != 2 || st.Spans != 40 || st.Logs != len(logs) || st.Records != 3 {
		t.Errorf("stats after reload %+v", st)
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fill sets every field of the struct v points to, recursively, to a
// value that is not zero.
func fill(v reflect.Value, n int) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(1_700_000_000+int64(n), int64(n))))
			return
		}
		if v.Type() == reflect.TypeFor[TraceID]() {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n+i)
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), n)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, n)
		fill(e, n+1)
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString(fmt.Sprintf("Value-%d", n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(n + 1))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(n + 1))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(n) + 0.5)
	}
}

// TestStorageKeepsEveryRecordField fails when a field of Record (one added
// later too) does not survive the storage file as the API shows it.
func TestStorageKeepsEveryRecordField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracebar.db")
	s := openTestStore(t, path, Limits{})
	var r Record
	fill(reflect.ValueOf(&r).Elem(), 1)
	r.TraceID = tid(3)
	s.PutRequest(&r)
	want := mustJSON(t, &r)
	s = reopen(t, s, path, Limits{})
	got := s.Request(r.ID)
	if got == nil {
		t.Fatalf("record %s not loaded", r.ID)
	}
	if g := mustJSON(t, got); g != want {
		t.Errorf("record differs after a reload:\n got %s\nwant %s", g, want)
	}
}

func TestChunkRoundTripsEveryValueKind(t *testing.T) {
	for i, v := range everyValue {
		t.Run(fmt.Sprintf("%d %T", i, v.Any()), func(t *testing.T) {
			c := &chunk{trace: tid(1), logs: []LogRecord{{TraceID: tid(1), Body: v, Attributes: []KeyValue{{"v", v}}}}}
			got, err := decodeChunk(c.encode(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := encoded(got.logs[0].Attributes), encoded(c.logs[0].Attributes); !bytes.Equal(a, b) {
				t.Errorf("attribute %#v came back as %#v", v, got.logs[0].Attributes[0].Value)
			}
			if fmt.Sprintf("%T", got.logs[0].Body.Any()) != fmt.Sprintf("%T", v.Any()) {
				t.Errorf("body %T came back as %T", v.Any(), got.logs[0].Body.Any())
			}
			if a, b := mustJSON(t, got.logs[0].Body), mustJSON(t, v); !math.IsNaN(asFloat(v)) && a != b {
				t.Errorf("body JSON %s, want %s", a, b)
			}
		})
	}
}

func asFloat(v Value) float64 {
	f, _ := v.Any().(float64)
	return f
}

func TestChunkWritesTooDeepValuesAsNil(t *testing.T) {
	deep := ValueOf("leaf")
	for range maxValueDepth + 2 {
		deep = ValueOf([]Value{deep})
	}
	c := &chunk{trace: tid(1), logs: []LogRecord{{Body: deep}}}
	got, err := decodeChunk(c.encode(), nil)
	if err != nil {
		t.Fatalf("a value nested %d deep: %v", maxValueDepth+2, err)
	}
	v := got.logs[0].Body
	depth := 0
	for {
		a, ok := v.Any().([]Value)
		if !ok {
			break
		}
		v, depth = a[0], depth+1
	}
	if v.Any() != nil || depth != maxValueDepth+1 {
		t.Errorf("innermost value %#v at depth %d, want nil at %d", v.Any(), depth, maxValueDepth+1)
	}
}

// FuzzDecodeChunk: any bytes decode to an error or to a chunk that encodes
// and decodes to itself, without a panic.
func FuzzDecodeChunk(f *testing.F) {
	f.Add((&chunk{trace: tid(1), spans: testSpans(tid(1), 3), logs: testLogs(tid(1))}).encode())
	f.Add((&chunk{trace: tid(2)}).encode())
	f.Add([]byte{chunkVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeChunk(b, nil)
		if err != nil {
			return
		}
		again, err := decodeChunk(c.encode(), nil)
		if err != nil {
			t.Fatalf("re-encoded chunk does not decode: %v", err)
		}
		if a, b := again.encode(), c.encode(); !bytes.Equal(a, b) {
			t.Fatalf("chunk changed in a round trip:\n%x\n%x", a, b)
		}
	})
}

// fileKeys counts the traces and records of the file at path, and the
// traces its chunks belong to: a commit may split a trace's spans into
// several chunks, and a chunk of a trace the file lacks is counted apart.
func fileKeys(t *testing.T, path string) (traces, chunkTraces, orphanChunks, records int) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		tb := tx.Bucket(bucketTraces)
		traces = tb.Stats().KeyN
		seen := map[string]bool{}
		tx.Bucket(bucketChunks).ForEach(func(k, _ []byte) error {
			switch {
			case tb.Get(k[:8]) == nil:
				orphanChunks++
			case !seen[string(k[:8])]:
				seen[string(k[:8])] = true
				chunkTraces++
			}
			return nil
		})
		records = tx.Bucket(bucketRecords).Stats().KeyN
		return nil
	})
	return traces, chunkTraces, orphanChunks, records
}

func TestStorageDeletesWhatTheBoundsEvict(t *testing.T) {
	tests := []struct {
		name                string
		limits, reload      Limits
		traces, records     int // added, each trace with a span and a record
		wantTraces, wantRec int // in memory and in the file after the reload
	}{
		{"evicted while running", Limits{Traces: 3, Requests: 2}, Limits{Traces: 3, Requests: 2}, 6, 6, 3, 2},
		{"tighter bounds at reload", Limits{Traces: 10, Requests: 10}, Limits{Traces: 4, Requests: 3}, 8, 8, 4, 3},
		{"span bound at reload", Limits{Traces: 10}, Limits{Traces: 10, Spans: 6}, 8, 0, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tracebar.db")
			s := openTestStore(t, path, tt.limits)
			for i := range tt.traces {
				s.AddSpans([]Span{{TraceID: tid(i), SpanID: sid(1)}, {TraceID: tid(i), SpanID: sid(2)}})
				if i < tt.records {
					s.PutRequest(&Record{ID: fmt.Sprint(i), TraceID: tid(i), Done: true})
				}
			}
			s = reopen(t, s, path, tt.reload)
			st := s.Stats()
			if st.Traces != tt.wantTraces || st.Records != tt.wantRec {
				t.Fatalf("after reload %d traces, %d records; want %d, %d", st.Traces, st.Records, tt.wantTraces, tt.wantRec)
			}
			if _, ok := s.Spans(tid(tt.traces-1), 0); !ok {
				t.Error("newest trace evicted")
			}
			if _, ok := s.Spans(tid(tt.traces-tt.wantTraces-1), 0); ok {
				t.Error("a trace beyond the bounds kept")
			}
			s.Close()
			traces, chunkTraces, orphans, records := fileKeys(t, path)
			if traces != tt.wantTraces || chunkTraces != tt.wantTraces || orphans != 0 || records != tt.wantRec {
				t.Errorf("file holds %d traces, chunks of %d traces and %d of none, %d records; want %d, %d, 0, %d",
					traces, chunkTraces, orphans, records, tt.wantTraces, tt.wantTraces, tt.wantRec)
			}
			// A reload with the first bounds finds nothing dropped come back.
			s = openTestStore(t, path, tt.limits)
			if st := s.Stats(); st.Traces != tt.wantTraces || st.Records != tt.wantRec {
				t.Errorf("second reload: %d traces, %d records; want %d, %d", st.Traces, st.Records, tt.wantTraces, tt.wantRec)
			}
		})
	}
}

// A late span makes again a trace that was evicted: the file must not
// lose it, whatever commits the writes fall into.
func TestStorageKeepsATraceMadeAgainAfterEviction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracebar.db")
	s := openTestStore(t, path, Limits{Traces: 1})
	s.AddSpans([]Span{{TraceID: tid(1), SpanID: sid(1)}})
	s.AddSpans([]Span{{TraceID: tid(2), SpanID: sid(1)}})
	s.AddSpans([]Span{{TraceID: tid(1), SpanID: sid(2)}})
	s = reopen(t, s, path, Limits{Traces: 1})
	got, ok := s.Spans(tid(1), 0)
	if !ok || len(got) != 1 || got[0].SpanID != sid(2) {
		t.Fatalf("trace 1 after reload: %v (known %v), want only its late span", got, ok)
	}
	if _, ok := s.Spans(tid(2), 0); ok {
		t.Error("evicted trace 2 came back")
	}
}

// AddSpans returns only once its spans are in the file, for concurrent
// callers too (whose writes share commits).
func TestAddSpansReturnsOnceCommitted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracebar.db")
	s := openTestStore(t, path, Limits{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				id := tid(g*100 + i)
				s.AddSpans([]Span{{TraceID: id, SpanID: sid(1)}})
				if !inFile(t, s, id) {
					t.Errorf("trace %s not in the file when AddSpans returned", id)
					return
				}
			}
		})
	}
	wg.Wait()
	s.AddLogs([]LogRecord{{TraceID: tid(999), Body: ValueOf("x")}})
	if !inFile(t, s, tid(999)) {
		t.Error("log not in the file when AddLogs returned")
	}
	// The proxy's spans do not wait, but an acknowledgement covers them.
	s.AddProxySpans([]Span{{TraceID: tid(1000), SpanID: sid(1)}})
	s.AddSpans([]Span{{TraceID: tid(1001), SpanID: sid(1)}})
	if !inFile(t, s, tid(1000)) {
		t.Error("the proxy's span added before an acknowledged one is not in the file")
	}
}

// inFile reports whether the file has a chunk of trace id.
func inFile(t *testing.T, s *Store, id TraceID) bool {
	s.mu.Lock()
	j := s.disk
	s.mu.Unlock()
	found := false
	err := j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketChunks).ForEach(func(k, v []byte) error {
			c, err := decodeChunk(v, nil)
			found = found || err == nil && c.trace == id
			return err
		})
	})
	if err != nil {
		t.Error(err)
	}
	return found
}

func TestStorageRefusesForeignAndDamagedFiles(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		want    string
	}{
		{"text file", func(t *testing.T, path string) {
			os.WriteFile(path, bytes.Repeat([]byte("not a database\n"), 1000), 0o600)
		}, "not a Tracebar storage file"},
		{"another program's bbolt file", func(t *testing.T, path string) {
			boltFile(t, path, func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("widgets")); return err })
		}, "another program"},
		{"another storage format", func(t *testing.T, path string) {
			closed(t, path)
			boltFile(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFormat, []byte("tracebar storage 99")) })
		}, `storage format "tracebar storage 99"`},
		{"damaged chunk", func(t *testing.T, path string) {
			closed(t, path)
			boltFile(t, path, func(tx *bolt.Tx) error {
				return tx.Bucket(bucketChunks).Put(make([]byte, 16), []byte{chunkVersion, 1, 2})
			})
		}, "damaged file: chunk"},
		{"damaged record", func(t *testing.T, path string) {
			closed(t, path)
			boltFile(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketRecords).Put([]byte("r"), []byte("12345678{")) })
		}, `damaged file: record "r"`},
		{"record under another's key", func(t *testing.T, path string) {
			closed(t, path)
			boltFile(t, path, func(tx *bolt.Tx) error {
				return tx.Bucket(bucketRecords).Put([]byte("r"), []byte(`12345678{"id":"other","done":true}`))
			})
		}, `damaged file: record "r" holds record "other"`},
		{"damaged meta pages", func(t *testing.T, path string) {
			closed(t, path)
			f, _ := os.OpenFile(path, os.O_WRONLY, 0)
			f.WriteAt(bytes.Repeat([]byte{0xff}, 16<<10), 0)
			f.Close()
		}, "not a Tracebar storage file, or a damaged one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tracebar.db")
			tt.prepare(t, path)
			s, err := OpenStore(path, Limits{}, StorageOptions{})
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q, want one naming the file and saying %q", err, tt.want)
			}
		})
	}
}

// closed makes a Tracebar storage file at path with a trace and a record.
func closed(t *testing.T, path string) {
	s, err := OpenStore(path, Limits{}, StorageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.AddSpans([]Span{{TraceID: tid(1), SpanID: sid(1)}})
	s.PutRequest(&Record{ID: "a", TraceID: tid(1)})
	s.Close()
}

func boltFile(t *testing.T, path string, f func(*bolt.Tx) error) {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(f); err != nil {
		t.Fatal(err)
	}
}

func TestStorageFileHeldByAnotherOpenIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracebar.db")
	openTestStore(t, path, Limits{})
	s, err := OpenStore(path, Limits{}, StorageOptions{LockTimeout: 10 * time.Millisecond})
	if err == nil {
		s.Close()
		t.Fatal("opened a file another store holds")
	}
	if !strings.Contains(err.Error(), "another process holds the file") || !strings.Contains(err.Error(), "10ms") {
		t.Errorf("error %q, want one saying another process holds the file, for the timeout given", err)
	}
}

func TestStorageSkipsARecordItCannotWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracebar.db")
	var reported []error
	s, err := OpenStore(path, Limits{}, StorageOptions{OnError: func(err error) { reported = append(reported, err) }})
	if err != nil {
		t.Fatal(err)
	}
	s.PutRequest(&Record{TraceID: tid(1)}) // no id: no key in the file
	if _, _, err := s.AddSpans([]Span{{TraceID: tid(1), SpanID: sid(1)}}); err != nil {
		t.Fatalf("the commit with the bad record failed: %v", err)
	}
	if st := s.Stats(); st.StorageDropped != 1 || st.StorageErrors != 0 || len(reported) != 1 || !strings.Contains(reported[0].Error(), "skipped") {
		t.Errorf("stats %+v, reported %v; want the record dropped and reported once, no commit failed", st, reported)
	}
	s = reopen(t, s, path, Limits{})
	if spans, _ := s.Spans(tid(1), 0); len(spans) != 1 {
		t.Errorf("%d spans after reload, want the one committed with the bad record", len(spans))
	}
}

func TestClosedStoreGoesOnInMemory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracebar.db")
	s := openTestStore(t, path, Limits{})
	s.AddSpans([]Span{{TraceID: tid(1), SpanID: sid(1)}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.AddSpans([]Span{{TraceID: tid(2), SpanID: sid(1)}})
	s.PutRequest(&Record{ID: "a", TraceID: tid(2)})
	if st := s.Stats(); st.Traces != 2 || st.Records != 1 {
		t.Errorf("stats %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// benchSpans returns n spans of trace tr shaped as the sink's benchmark
// exports are (otelbridge/bench_test.go, batch512): three attributes and a
// service.name resource.
func benchSpans(tr TraceID, n int) []Span {
	res := &Resource{Attributes: []KeyValue{{"service.name", ValueOf("shop")}}}
	scope := &Scope{Name: "bench"}
	start := time.Unix(0, 1e18)
	spans := make([]Span, n)
	for i := range spans {
		spans[i] = Span{TraceID: tr, SpanID: sid(i + 1), Name: "SELECT products", Kind: KindClient, Start: start, End: start.Add(time.Millisecond),
			Attributes: []KeyValue{{"db.system.name", ValueOf("postgresql")}, {"db.query.text", ValueOf("SELECT id, name FROM products WHERE id = $1")}, {"server.address", ValueOf("db")}},
			Resource:   res, Scope: scope}
	}
	return spans
}

// BenchmarkStorageAddSpans measures the sink's path, exports of 512 spans
// in a trace of their own from parallel clients, in memory and with a
// storage file; file-bytes/span is the file's size over the spans it holds.
func BenchmarkStorageAddSpans(b *testing.B) {
	for _, file := range []bool{false, true} {
		name := "memory"
		if file {
			name = "file"
		}
		b.Run(name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "tracebar.db")
			s := NewStore(Limits{})
			if file {
				s = openTestStore(b, path, Limits{})
			}
			var (
				mu sync.Mutex
				n  int
			)
			b.SetParallelism(2)
			b.RunParallel(func(pb *testing.PB) {
				spans := benchSpans(tid(0), 512)
				for pb.Next() {
					mu.Lock()
					n++
					id := TraceID{2, byte(n >> 16), byte(n >> 8), byte(n)}
					mu.Unlock()
					for i := range spans {
						spans[i].TraceID = id
					}
					s.AddSpans(spans)
				}
			})
			b.ReportMetric(float64(b.N*512)/b.Elapsed().Seconds(), "spans/s")
			if file {
				st := s.Stats()
				s.Close()
				if fi, err := os.Stat(path); err == nil && st.Spans > 0 {
					b.ReportMetric(float64(fi.Size())/float64(st.Spans), "file-bytes/span")
				}
			}
		})
	}
}

// BenchmarkStorageLoad measures start-up on a full store at the default
// bounds: 1,000 traces of 200 spans (benchSpans) and a record each.
func BenchmarkStorageLoad(b *testing.B) {
	path := filepath.Join(b.TempDir(), "tracebar.db")
	s := openTestStore(b, path, Limits{})
	for i := range 1000 {
		s.AddSpans(benchSpans(tid(i), 200))
		s.PutRequest(&Record{ID: fmt.Sprint(i), TraceID: tid(i), Method: "GET", URL: "/orders", Done: true, Status: 200,
			ClientRequest: Headers{{"Accept", "text/html"}, {"User-Agent", "bench"}}})
	}
	s.Close()
	if fi, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(fi.Size())/200_000, "file-bytes/span")
	}
	b.ResetTimer()
	for b.Loop() {
		s, err := OpenStore(path, Limits{}, StorageOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if st := s.Stats(); st.Traces != 1000 || st.Spans != 200_000 {
			b.Fatalf("loaded %+v", st)
		}
		s.Close()
	}
}
