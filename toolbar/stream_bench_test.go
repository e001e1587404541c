//go:build unix

package toolbar

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// eventCounter is a history stream's client: it counts the "request"
// events and says when the first burst (first of them) has come.
type eventCounter struct {
	header http.Header
	events atomic.Int64
	first  int64
	burst  chan struct{} // closed at the first-th event
}

func newEventCounter(first int64) *eventCounter {
	return &eventCounter{header: http.Header{}, first: first, burst: make(chan struct{})}
}

func (w *eventCounter) Header() http.Header { return w.header }
func (w *eventCounter) WriteHeader(int)     {}
func (w *eventCounter) Flush()              {}
func (w *eventCounter) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("event: request\n")) && w.events.Add(1) == w.first {
		close(w.burst)
	}
	return len(p), nil
}

// BenchmarkHistoryStreamSpanBatches is the cost of the history's streams
// while spans arrive one batch at a time into the traces of 100 records,
// as the proxy's own spans come (one AddSpans per span that ends), 2,000
// batches a second (a thousand proxied requests): each batch wakes every
// stream, which looks over the newest 100 records and sends the summary
// of each one whose trace grew. It reports the process's CPU time and the
// summaries sent per batch and stream, with a pass per wake-up and with
// the passes streamEvery apart.
func BenchmarkHistoryStreamSpanBatches(b *testing.B) {
	for _, bench := range []struct {
		streams int
		every   time.Duration
	}{{0, 0}, {1, 0}, {4, 0}, {1, streamEvery}, {4, streamEvery}} {
		streams := bench.streams
		b.Run(fmt.Sprintf("%d streams, passes %v apart", streams, bench.every), func(b *testing.B) {
			s := NewStore(Limits{Spans: 1 << 30, Bytes: 1 << 40})
			t0 := time.Now()
			var recs []*Record
			for i := range 100 {
				rec, spans := orderLoad(i, t0.Add(time.Duration(i)*time.Second), i+1, 3, 0.5, nil)
				s.PutRequest(rec)
				s.AddSpans(spans)
				recs = append(recs, rec)
			}
			api := NewAPI(s)
			api.historyEvery = bench.every
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var clients []*eventCounter
			for range streams {
				w := newEventCounter(int64(len(recs)))
				clients = append(clients, w)
				wg.Add(1)
				go func() {
					defer wg.Done()
					api.ServeHTTP(w, httptest.NewRequest("GET", "/api/requests/stream", nil).WithContext(ctx))
				}()
				<-w.burst
			}
			const perTick = 10
			tick := time.NewTicker(perTick * time.Second / 2000)
			defer tick.Stop()
			cpu0 := cpuTime()
			i := 0
			for b.Loop() {
				if i%perTick == 0 {
					<-tick.C
				}
				rec := recs[i%len(recs)]
				root, _ := ParseSpanID(rec.ID)
				s.AddSpans([]Span{{TraceID: rec.TraceID, SpanID: SpanID{0xee, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}, ParentSpanID: root,
					Name: "late", Start: t0, End: t0.Add(time.Millisecond), Resource: shopService}})
				i++
			}
			cpu := cpuTime() - cpu0
			cancel()
			wg.Wait()
			b.ReportMetric(float64(cpu.Microseconds())/float64(i), "cpu-µs/batch")
			if streams > 0 {
				sent := int64(0)
				for _, w := range clients {
					sent += w.events.Load() - int64(len(recs))
				}
				b.ReportMetric(float64(sent)/float64(i)/float64(streams), "summaries/batch")
			}
		})
	}
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}
