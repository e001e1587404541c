// Command ingest is the OTLP load generator of tests/ingest.sh: C parallel
// clients send pre-marshalled ExportTraceServiceRequests of 512 spans
// (three attributes each and a service.name resource, the batch512 shape of
// otelbridge/bench_test.go) over OTLP/HTTP protobuf or OTLP/gRPC for a
// duration D, then it prints the spans/s accepted and the errors.
//
// Every export carries ids never sent before (a random run prefix and a
// counter are patched into the marshalled bytes in place), so a receiver
// that drops duplicate spans, as Tracebar's store does, drops none. Spans a
// receiver reports as rejected (partial success) are not counted. cpu= is
// the CPU time the generator itself used, in seconds.
//
//	go run ./tests/cmd/ingest -proto grpc -endpoint 127.0.0.1:4317 -c 4 -d 10s
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

const exportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

func main() {
	protocol := flag.String("proto", "http", "http (OTLP/HTTP protobuf) or grpc (OTLP/gRPC)")
	endpoint := flag.String("endpoint", "127.0.0.1:4318", "receiver host:port")
	clients := flag.Int("c", 4, "parallel clients, each with its own connection")
	duration := flag.Duration("d", 10*time.Second, "how long to send")
	spans := flag.Int("spans", 512, "spans per export")
	traces := flag.Int("traces", 1, "traces per export (spans split evenly)")
	label := flag.String("label", "", "label printed in the result line")
	flag.Parse()
	if *protocol != "http" && *protocol != "grpc" || *clients < 1 || *spans < 1 || *traces < 1 || *traces > *spans || *spans > 65535 {
		flag.Usage()
		os.Exit(2)
	}
	r, err := run(*protocol, *endpoint, *clients, *duration, *spans, *traces)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
	fmt.Printf("label=%s proto=%s endpoint=%s clients=%d seconds=%.2f exports=%d spans=%d rejected=%d errors=%d cpu=%.2f spans/s=%.0f\n",
		*label, *protocol, *endpoint, *clients, r.elapsed.Seconds(), r.exports, r.spans, r.rejected, r.errors, cpuTime().Seconds(), float64(r.spans)/r.elapsed.Seconds())
	if r.firstErr != nil {
		fmt.Fprintln(os.Stderr, "ingest: first error:", r.firstErr)
	}
	if r.errors > 0 || r.exports == 0 {
		os.Exit(1)
	}
}

type result struct {
	elapsed                          time.Duration
	exports, spans, rejected, errors int64
	firstErr                         error
}

// template is one marshalled export and where its ids sit in it.
type template struct {
	body     []byte
	traceIDs []int // offsets of the 16-byte trace ids, one per span
	spanIDs  []int // offsets of the 8-byte span ids
	perTrace int   // spans per trace
}

func newTemplate(spans, traces int) (*template, error) {
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	ss := &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: "bench"}}
	for i := 0; i < spans; i++ {
		// Placeholders, patched before every send; valid (non-zero) already.
		tid, sid := bytes.Repeat([]byte{0xaa}, 16), bytes.Repeat([]byte{0xbb}, 8)
		ss.Spans = append(ss.Spans, &tracepb.Span{
			TraceId: tid, SpanId: sid, Name: "SELECT products", Kind: tracepb.Span_SPAN_KIND_CLIENT,
			StartTimeUnixNano: 1e18, EndTimeUnixNano: 1e18 + 1e6,
			Attributes: []*commonpb.KeyValue{str("db.system.name", "postgresql"), str("db.query.text", "SELECT id, name FROM products WHERE id = $1"), str("server.address", "db")},
		})
	}
	body, err := proto.Marshal(&collectortrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "shop")}},
		ScopeSpans: []*tracepb.ScopeSpans{ss},
	}}})
	if err != nil {
		return nil, err
	}
	t := &template{body: body, perTrace: (spans + traces - 1) / traces}
	// ExportTraceServiceRequest.resource_spans(1) > ResourceSpans.scope_spans(2)
	// > ScopeSpans.spans(2) > Span.trace_id(1), span_id(2).
	err = walk(body, 0, func(num protowire.Number, off int, v []byte) error {
		if num != 1 {
			return nil
		}
		return walk(v, off, func(num protowire.Number, off int, v []byte) error {
			if num != 2 {
				return nil
			}
			return walk(v, off, func(num protowire.Number, off int, v []byte) error {
				if num != 2 {
					return nil
				}
				return walk(v, off, func(num protowire.Number, off int, v []byte) error {
					switch {
					case num == 1 && len(v) == 16:
						t.traceIDs = append(t.traceIDs, off)
					case num == 2 && len(v) == 8:
						t.spanIDs = append(t.spanIDs, off)
					}
					return nil
				})
			})
		})
	})
	if err != nil {
		return nil, err
	}
	if len(t.traceIDs) != spans || len(t.spanIDs) != spans {
		return nil, fmt.Errorf("template: found %d trace ids and %d span ids, want %d", len(t.traceIDs), len(t.spanIDs), spans)
	}
	return t, nil
}

// walk calls f for each length-delimited field of the message b (which
// starts at offset base of the whole body) with the absolute offset of its
// value.
func walk(b []byte, base int, f func(protowire.Number, int, []byte) error) error {
	for i := 0; i < len(b); {
		num, typ, n := protowire.ConsumeTag(b[i:])
		if n < 0 {
			return protowire.ParseError(n)
		}
		i += n
		if typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b[i:])
			if m < 0 {
				return protowire.ParseError(m)
			}
			if err := f(num, base+i+m-len(v), v); err != nil {
				return err
			}
			i += m
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b[i:])
		if m < 0 {
			return protowire.ParseError(m)
		}
		i += m
	}
	return nil
}

// patch makes the ids of export n of this run unique: trace id = run prefix
// (8 bytes) + export number (6 bytes) + trace index (2 bytes); span id =
// export number (6 bytes) + span index (2 bytes).
func (t *template) patch(buf []byte, run [8]byte, n uint64) {
	var tid [16]byte
	copy(tid[:8], run[:])
	for i, off := range t.traceIDs {
		binary.BigEndian.PutUint64(tid[8:], n<<16|uint64(i/t.perTrace))
		copy(buf[off:off+16], tid[:])
		binary.BigEndian.PutUint64(buf[t.spanIDs[i]:], n<<16|uint64(i)+1)
	}
}

// rawCodec sends and receives gRPC messages as bytes already marshalled.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append((*(v.(*[]byte)))[:0], data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

func run(protocol, endpoint string, clients int, d time.Duration, spans, traces int) (result, error) {
	t, err := newTemplate(spans, traces)
	if err != nil {
		return result{}, err
	}
	var runID [8]byte
	rand.Read(runID[:])
	runID[0] |= 0x80 // never all zero

	var (
		res     result
		next    atomic.Uint64
		errOnce sync.Once
		wg      sync.WaitGroup
	)
	fail := func(err error) {
		atomic.AddInt64(&res.errors, 1)
		errOnce.Do(func() { res.firstErr = err })
	}
	// account takes one export's response and counts what was accepted.
	account := func(resp []byte) error {
		var r collectortrace.ExportTraceServiceResponse
		if err := proto.Unmarshal(resp, &r); err != nil {
			return fmt.Errorf("response: %w", err)
		}
		rej := r.GetPartialSuccess().GetRejectedSpans()
		atomic.AddInt64(&res.exports, 1)
		atomic.AddInt64(&res.spans, int64(spans)-rej)
		atomic.AddInt64(&res.rejected, rej)
		return nil
	}

	type sender func(ctx context.Context, body []byte) error
	var closers []func()
	senders := make([]sender, clients)
	for c := range senders {
		switch protocol {
		case "http":
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
			closers = append(closers, client.CloseIdleConnections)
			url := "http://" + endpoint + "/v1/traces"
			senders[c] = func(ctx context.Context, body []byte) error {
				req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
				if err != nil {
					return err
				}
				req.Header.Set("Content-Type", "application/x-protobuf")
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					return err
				}
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("HTTP %s: %.200s", resp.Status, b)
				}
				return account(b)
			}
		case "grpc":
			conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
			if err != nil {
				return result{}, err
			}
			closers = append(closers, func() { conn.Close() })
			var out []byte
			senders[c] = func(ctx context.Context, body []byte) error {
				if err := conn.Invoke(ctx, exportMethod, &body, &out); err != nil {
					return err
				}
				return account(out)
			}
		}
	}
	defer func() {
		for _, c := range closers {
			c()
		}
	}()

	// Clients start exports until the deadline; the last ones finish and
	// count, and the elapsed time runs until they have. Each call has its
	// own bound, so a stuck receiver fails the run instead of hanging it.
	start := time.Now()
	deadline := start.Add(d)
	for _, send := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := bytes.Clone(t.body)
			for time.Now().Before(deadline) {
				t.patch(buf, runID, next.Add(1))
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := send(ctx, buf)
				cancel()
				if err != nil {
					fail(err)
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res, nil
}
