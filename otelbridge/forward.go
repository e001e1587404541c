package otelbridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	collectorlogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// Bounds of what waits for the backend, in batches and in encoded bytes
// (those being sent included); beyond them batches are dropped and
// counted, never blocking the sink nor growing with a backend that is down.
const (
	forwardQueue = 256
	forwardBytes = 64 << 20
)

// Forwarder hands telemetry on to a real OTLP backend (an OpenTelemetry
// Collector, Jaeger, Tempo): the proxy's own spans through the SDK's batch
// span processor, and what the sink receives (spans, logs, metrics) as it
// came, without re-encoding (nested attribute values survive). The app can
// keep Tracebar as its only OTLP endpoint. To a Zipkin server
// (NewZipkinForwarder) only spans go, translated to Zipkin v2 JSON.
type Forwarder struct {
	// Endpoint is where spans go, for logs.
	Endpoint string
	// Protocol is what the backend speaks: "otlp", or "zipkin" (spans
	// only, as Zipkin v2 JSON).
	Protocol string

	client  otlptrace.Client
	signals signalSender // logs and metrics; nil when only a traces URL is known
	dropped atomic.Uint64
	onLost  atomic.Pointer[func(error)]
	ctx     context.Context // of the sends; canceled when Shutdown gives up waiting
	cancel  context.CancelFunc
	done    chan struct{} // closed when both queues are drained
	stop    sync.Once
	// refs counts the holders of the connection: the Forwarder itself until
	// Shutdown, and each span processor until its exporter stops. The last
	// one closes it, so the proxy's final batch is sent whatever order Caddy
	// cleans modules up in.
	refs atomic.Int32

	// Spans and the other signals have a queue and a sender each, so a
	// logs or metrics backend that retries cannot hold spans up.
	mu     sync.RWMutex // guards the queues against sends after Shutdown closed them
	spans  chan queued[[]*tracepb.ResourceSpans]
	others chan queued[proto.Message] // logs and metrics exports
	closed bool

	held     atomic.Int64 // encoded bytes queued or being sent
	maxBytes int64
}

// queued is a batch waiting for the backend, with its encoded size.
type queued[T any] struct {
	batch T
	size  int64
}

// ForwardEndpointFromEnv returns the endpoint the OTEL_EXPORTER_OTLP_*
// variables name, or "", and whether it is the exact URL to post to (the
// TRACES variant) rather than a base URL.
func ForwardEndpointFromEnv() (endpoint string, exact bool) {
	if v := strings.TrimSpace(os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")); v != "" {
		return v, true
	}
	return strings.TrimSpace(os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")), false
}

// NewForwarder returns a Forwarder to endpoint: "http(s)://host:port[/base]"
// for OTLP/HTTP protobuf, posting to base/v1/traces as the SDKs do with
// OTEL_EXPORTER_OTLP_ENDPOINT (exact: to the URL as given), or
// "grpc://host:port" for OTLP/gRPC without TLS. With OTEL_EXPORTER_OTLP_PROTOCOL
// (or its TRACES variant) set to grpc, an http:// endpoint means gRPC too,
// as the SDKs read it. "zipkin://host:port" forwards spans to a Zipkin
// server instead (NewZipkinForwarder). self lists the sink's own
// addresses: forwarding to them would loop, and is refused.
func NewForwarder(endpoint string, exact bool, self ...string) (*Forwarder, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("forward: endpoint %q is not a URL like http://localhost:4318 or grpc://localhost:4317", endpoint)
	}
	if u.Scheme == "zipkin" {
		return NewZipkinForwarder(endpoint, self...)
	}
	if isSelf(u.Host, self) {
		return nil, fmt.Errorf("forward: %s is this sink; forwarding there would loop", endpoint)
	}
	protocol := strings.ToLower(os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))
	if protocol == "" {
		protocol = strings.ToLower(os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	}
	var (
		client  otlptrace.Client
		signals signalSender
	)
	switch {
	case u.Scheme == "grpc" || (protocol == "grpc" && u.Scheme == "http"):
		client = otlptracegrpc.NewClient(otlptracegrpc.WithEndpoint(u.Host), otlptracegrpc.WithInsecure())
		signals, err = newGRPCSignals(u.Host, insecure.NewCredentials())
	case protocol == "grpc" && u.Scheme == "https":
		client = otlptracegrpc.NewClient(otlptracegrpc.WithEndpoint(u.Host))
		signals, err = newGRPCSignals(u.Host, credentials.NewTLS(nil))
	case u.Scheme == "http" || u.Scheme == "https":
		base, isTraces := strings.CutSuffix(u.Path, "/v1/traces")
		if !exact && !isTraces {
			base = strings.TrimSuffix(u.Path, "/")
			u.Path = base + "/v1/traces"
		}
		client = otlptracehttp.NewClient(otlptracehttp.WithEndpointURL(u.String()))
		if !exact || isTraces {
			b := *u
			b.Path, b.RawQuery = base, ""
			signals = newHTTPSignals(b.String())
		}
	default:
		return nil, fmt.Errorf("forward: unsupported scheme %q (want http, https, grpc or zipkin)", u.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	if err := client.Start(context.Background()); err != nil {
		if signals != nil {
			signals.close()
		}
		return nil, fmt.Errorf("forward: %w", err)
	}
	return startForwarder(redactedURL(endpoint), "otlp", client, signals), nil
}

// redactedURL is s with the password of its user info, if any, masked: it
// is shown in logs.
func redactedURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}

// startForwarder starts the senders of a Forwarder whose clients are
// ready; signals may be nil (spans only).
func startForwarder(endpoint, protocol string, client otlptrace.Client, signals signalSender) *Forwarder {
	f := &Forwarder{Endpoint: endpoint, Protocol: protocol, client: client, signals: signals, done: make(chan struct{}), maxBytes: forwardBytes,
		spans: make(chan queued[[]*tracepb.ResourceSpans], forwardQueue), others: make(chan queued[proto.Message], forwardQueue)}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.refs.Store(1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for q := range f.spans {
			if err := f.client.UploadTraces(f.ctx, q.batch); err != nil {
				f.lost(fmt.Errorf("forward spans: %w", err))
			}
			f.held.Add(-q.size)
		}
	})
	wg.Go(func() {
		for q := range f.others {
			if err := f.signals.send(f.ctx, q.batch); err != nil {
				f.lost(err)
			}
			f.held.Add(-q.size)
		}
	})
	go func() {
		wg.Wait()
		close(f.done)
	}()
	return f
}

func isSelf(host string, self []string) bool {
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		return false
	}
	for _, s := range self {
		sh, sp, err := net.SplitHostPort(s)
		if err != nil || sp != p {
			continue
		}
		loop := func(x string) bool {
			return x == "localhost" || x == "" || net.ParseIP(x).IsLoopback() || net.ParseIP(x).IsUnspecified()
		}
		if sh == h || (loop(sh) && loop(h)) {
			return true
		}
	}
	return false
}

// Sends reports whether the Forwarder sends to one of addrs (host:port),
// as its loop guard reads addresses: any loopback spelling is the same.
func (f *Forwarder) Sends(addrs ...string) bool {
	u, err := url.Parse(f.Endpoint)
	return err == nil && isSelf(u.Host, addrs)
}

// Forward queues a received batch of spans without waiting for the
// backend. After Shutdown (a sink may still hold the Forwarder of a config
// being replaced) batches are dropped and counted. The clients retry with
// backoff as the OTLP exporters do; a batch that still fails is lost to the
// backend, not to the toolbar.
func (f *Forwarder) Forward(rss []*tracepb.ResourceSpans) {
	var size int
	for _, rs := range rss {
		size += proto.Size(rs)
	}
	enqueue(f, f.spans, queued[[]*tracepb.ResourceSpans]{rss, int64(size)})
}

// ForwardLogs queues a received logs export, as Forward does spans.
func (f *Forwarder) ForwardLogs(req *collectorlogs.ExportLogsServiceRequest) { f.forwardOther(req) }

// ForwardMetrics queues a received metrics export, as Forward does spans.
func (f *Forwarder) ForwardMetrics(req *collectormetrics.ExportMetricsServiceRequest) {
	f.forwardOther(req)
}

// forwardOther queues a logs or metrics export, unless the endpoint was
// given as a traces URL only (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT not
// ending in /v1/traces) or is Zipkin: then there is nowhere to send it.
func (f *Forwarder) forwardOther(req proto.Message) {
	if f.signals != nil {
		enqueue(f, f.others, queued[proto.Message]{req, int64(proto.Size(req))})
	}
}

func enqueue[T any](f *Forwarder, queue chan queued[T], q queued[T]) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		f.dropped.Add(1)
		return
	}
	if f.held.Add(q.size) > f.maxBytes {
		f.held.Add(-q.size)
		f.dropped.Add(1)
		return
	}
	select {
	case queue <- q:
	default:
		f.held.Add(-q.size)
		f.dropped.Add(1)
	}
}

// ForwardsLogsAndMetrics reports whether logs and metrics exports have
// somewhere to go: not when the endpoint is a traces URL not ending in
// /v1/traces, nor to Zipkin, which has no API for them.
func (f *Forwarder) ForwardsLogsAndMetrics() bool { return f.signals != nil }

// OnLost sets a function told of each export the backend did not take,
// after the retries: a backend without a logs pipeline, a wrong API key.
func (f *Forwarder) OnLost(fn func(error)) { f.onLost.Store(&fn) }

func (f *Forwarder) lost(err error) {
	f.dropped.Add(1)
	if fn := f.onLost.Load(); fn != nil && !errors.Is(err, context.Canceled) { // not news at shutdown
		(*fn)(err)
	}
}

// Dropped counts the received batches lost to the backend: dropped because
// it fell behind, or not taken after the retries.
func (f *Forwarder) Dropped() uint64 { return f.dropped.Load() }

// SpanProcessor returns a batch span processor that exports the proxy's
// spans through the Forwarder's connection. Shutting it down leaves the
// connection to the Forwarder.
func (f *Forwarder) SpanProcessor() sdktrace.SpanProcessor {
	f.refs.Add(1)
	exp, _ := otlptrace.New(context.Background(), &sharedClient{Client: f.client, f: f}) // Start of sharedClient cannot fail
	return sdktrace.NewBatchSpanProcessor(exp)
}

// Shutdown stops taking received batches, sends what is queued, and
// closes the connection once no span processor needs it any more.
func (f *Forwarder) Shutdown(ctx context.Context) error {
	var err error
	f.stop.Do(func() {
		f.mu.Lock()
		f.closed = true
		close(f.spans)
		close(f.others)
		f.mu.Unlock()
		err = f.release(ctx)
	})
	return err
}

func (f *Forwarder) release(ctx context.Context) error {
	if f.refs.Add(-1) > 0 {
		return nil
	}
	var err error
	select {
	case <-f.done:
	case <-ctx.Done():
		err = ctx.Err() // what is left is lost to the backend
		f.cancel()      // ends the retries; the rest then fails at once
		<-f.done
	}
	f.cancel()
	err = errors.Join(err, f.client.Stop(ctx))
	if f.signals != nil {
		err = errors.Join(err, f.signals.close())
	}
	return err
}

// sharedClient lends the Forwarder's client to an exporter: starting is a
// no-op, stopping releases the exporter's hold on it.
type sharedClient struct {
	otlptrace.Client
	f    *Forwarder
	once sync.Once
}

func (*sharedClient) Start(context.Context) error { return nil }

func (c *sharedClient) Stop(ctx context.Context) error {
	var err error
	c.once.Do(func() { err = c.f.release(ctx) })
	return err
}
