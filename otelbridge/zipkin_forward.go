package otelbridge

// Forwarding to Zipkin: the Forwarder's span client posts Zipkin v2 JSON
// (zipkin-go's model and its MarshalJSON) instead of OTLP, with the same
// queues, bounds, retries and drop counters. OTLP spans become Zipkin
// spans as the OpenTelemetry Collector's Zipkin exporter translates them
// (pkg/translator/zipkin/zipkinv2, FromTranslator), so Zipkin, and
// Collector-based receivers such as Jaeger v2's, read them back as the
// Collector's own exports. Zipkin has no logs or metrics API: those are
// not forwarded.

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/openzipkin/zipkin-go/model"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// DefaultZipkinPort is where zipkin://host (without a port) posts.
const DefaultZipkinPort = "9411"

// zipkinMaxPost bounds the JSON of one POST; a larger batch is sent in
// parts (a span larger than that alone). Zipkin's server and the
// Collector's receiver refuse bodies much larger than a few MB, and Zipkin
// JSON is several times larger than the OTLP protobuf it came from.
const zipkinMaxPost = 4 << 20

// Tags the Collector's Zipkin exporter writes besides those of
// zipkin_convert.go.
const (
	tagSpanKind     = "span.kind" // "internal": Zipkin has no such kind
	tagLinkFormat   = "otlp.link.%d"
	annotationAttrs = "%s|%s|%d" // event name | attributes as JSON | dropped attributes
	linkFormat      = "%s|%s|%s|%s|%d"
	maxZipkinLinks  = 128 // the Collector's receiver reads otlp.link.0 to .127
)

// NewZipkinForwarder returns a Forwarder that sends spans to a Zipkin v2
// server (Zipkin, or a Collector or Jaeger with a Zipkin receiver) as
// JSON: "zipkin://host[:port][/base]" posts to
// http://host:port/base/api/v2/spans (port 9411 by default);
// "http(s)://host:port/path" posts to that URL (to /api/v2/spans when it
// has no path). Logs and metrics are not forwarded. self lists this
// process's sink and receiver addresses: forwarding to them would loop,
// and is refused.
func NewZipkinForwarder(endpoint string, self ...string) (*Forwarder, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("forward: endpoint %q is not a URL like zipkin://localhost:9411 or http://localhost:9411/api/v2/spans", endpoint)
	}
	switch u.Scheme {
	case "zipkin":
		u.Scheme = "http"
		if u.Port() == "" {
			u.Host = net.JoinHostPort(u.Hostname(), DefaultZipkinPort)
		}
		if !strings.HasSuffix(u.Path, ZipkinPath) {
			u.Path = strings.TrimSuffix(u.Path, "/") + ZipkinPath
		}
	case "http", "https":
		if u.Path == "" || u.Path == "/" {
			u.Path = ZipkinPath
		}
	default:
		return nil, fmt.Errorf("forward: unsupported scheme %q for Zipkin (want zipkin, http or https)", u.Scheme)
	}
	if isSelf(u.Host, self) {
		return nil, fmt.Errorf("forward: %s is this process's own sink or Zipkin receiver; forwarding there would loop", endpoint)
	}
	shown := u.Redacted() // for messages and logs
	return startForwarder(shown, "zipkin", &zipkinClient{url: u.String(), shown: shown, client: forwardHTTPClient(), maxPost: zipkinMaxPost}, nil), nil
}

// zipkinClient is the Forwarder's span client for Zipkin: an
// otlptrace.Client, so the proxy's own spans (through the SDK's batch
// processor) and received exports take the same path as with OTLP.
type zipkinClient struct {
	url     string
	shown   string // url with any password masked
	client  *http.Client
	maxPost int
}

func (*zipkinClient) Start(context.Context) error { return nil }

func (c *zipkinClient) Stop(context.Context) error {
	c.client.CloseIdleConnections()
	return nil
}

// UploadTraces converts the spans and posts them, in parts of at most
// maxPost bytes, each retried as OTLP/HTTP exports are (postRetrying).
// The first part the backend does not take ends the batch: it is lost.
func (c *zipkinClient) UploadTraces(ctx context.Context, rss []*tracepb.ResourceSpans) error {
	var (
		body    = []byte{'['}
		skipped int
		skipErr error
	)
	send := func() error {
		if len(body) == 1 {
			return nil
		}
		body = append(body, ']')
		err := postRetrying(ctx, c.client, c.url, "application/json", body, nil, c.shown)
		body = body[:1]
		return err
	}
	for _, zs := range otlpToZipkin(rss) {
		b, err := json.Marshal(zs)
		if err != nil { // not expected: otlpToZipkin leaves out what MarshalJSON refuses
			if skipped++; skipErr == nil {
				skipErr = err
			}
			continue
		}
		if len(body) > 1 && len(body)+len(b)+2 > c.maxPost {
			if err := send(); err != nil {
				return err
			}
		}
		if len(body) > 1 {
			body = append(body, ',')
		}
		body = append(body, b...)
	}
	if err := send(); err != nil {
		return err
	}
	if skipped > 0 {
		return fmt.Errorf("forward %s: %d spans not convertible to Zipkin JSON: %w", c.shown, skipped, skipErr)
	}
	return nil
}

// otlpToZipkin translates OTLP spans into Zipkin v2 spans, as the
// Collector's Zipkin exporter does:
//   - ids are copied (a trace id as 32 hex digits, or 16 when its high
//     half is zero, which Zipkin reads as the same id); spans with invalid
//     ids are left out, as the sink's store leaves them out;
//   - the resource's service.name is the local endpoint's serviceName;
//     the other resource attributes, the scope's attributes, and its name
//     and version (otel.library.name, otel.library.version) become tags of
//     every span, under the span's own attributes;
//   - kinds map one to one; INTERNAL has no Zipkin kind and is tagged
//     span.kind=internal;
//   - start and end become timestamp and duration in microseconds (a start
//     before 1970-01-01T00:00:01 is left out, as Zipkin allows);
//   - attributes become tags, non-string values as their text (numbers,
//     booleans, base64 bytes, JSON for arrays and maps);
//   - network.local.address/port (or the older net.host.ip/port) make the
//     local endpoint's address; the remote endpoint is peer.service and
//     network.peer.address/port (or net.sock.peer.addr/port, net.peer.ip/
//     port, else server.address/port on CLIENT, PRODUCER and CONSUMER
//     spans and client.address/port on SERVER spans, when it is an IP).
//     The network and older net tags used are removed (the endpoint
//     carries them, and the receivers name them back), server.address and
//     client.address stay;
//   - status ERROR sets the tag error=true, and any non-UNSET status
//     otel.status_code (STATUS_CODE_OK or STATUS_CODE_ERROR) and
//     otel.status_description; an "error" attribute on a span without
//     ERROR status is dropped (Zipkin would call the span failed);
//   - events become annotations: the name, or "name|{attributes as
//     JSON}|dropped count" when the event has attributes (a '|' in the name
//     becomes '¦', since the Collector's receiver splits there); an event
//     without a time takes the span's start;
//   - links become tags otlp.link.<i>, "trace|span|tracestate|{attributes}|
//     dropped", and the trace state the tag w3c.tracestate.
func otlpToZipkin(rss []*tracepb.ResourceSpans) []*model.SpanModel {
	var out []*model.SpanModel
	for _, rs := range rss {
		service := ""
		resTags := map[string]string{}
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = anyText(kv.GetValue())
				continue
			}
			resTags[kv.GetKey()] = anyText(kv.GetValue())
		}
		for _, ss := range rs.GetScopeSpans() {
			scopeTags := maps.Clone(resTags)
			sc := ss.GetScope()
			for _, kv := range sc.GetAttributes() {
				scopeTags[kv.GetKey()] = anyText(kv.GetValue())
			}
			if sc.GetName() != "" {
				scopeTags[tagLibraryName] = sc.GetName()
			}
			if sc.GetVersion() != "" {
				scopeTags[tagLibraryVersion] = sc.GetVersion()
			}
			for _, sp := range ss.GetSpans() {
				if badSpanIDs(sp) {
					continue
				}
				out = append(out, spanToZipkin(sp, service, scopeTags))
			}
		}
	}
	return out
}

func spanToZipkin(sp *tracepb.Span, service string, scopeTags map[string]string) *model.SpanModel {
	tags := maps.Clone(scopeTags)
	for _, kv := range sp.GetAttributes() {
		tags[kv.GetKey()] = anyText(kv.GetValue())
	}
	zs := &model.SpanModel{
		SpanContext: model.SpanContext{
			TraceID: model.TraceID{High: binary.BigEndian.Uint64(sp.TraceId[:8]), Low: binary.BigEndian.Uint64(sp.TraceId[8:])},
			ID:      model.ID(binary.BigEndian.Uint64(sp.SpanId)),
		},
		Name: sp.GetName(),
	}
	if p := sp.GetParentSpanId(); len(p) == 8 {
		if id := model.ID(binary.BigEndian.Uint64(p)); id != 0 {
			zs.ParentID = &id
		}
	}
	if ts := sp.GetTraceState(); ts != "" {
		tags[tagTraceState] = ts
	}

	start, end := sp.GetStartTimeUnixNano(), sp.GetEndTimeUnixNano()
	if zipkinTimeOK(start) {
		zs.Timestamp = time.Unix(0, int64(start))
		if end > start {
			zs.Duration = time.Duration(min(end-start, math.MaxInt64))
		}
	}

	switch sp.GetKind() {
	case tracepb.Span_SPAN_KIND_CLIENT:
		zs.Kind = model.Client
	case tracepb.Span_SPAN_KIND_SERVER:
		zs.Kind = model.Server
	case tracepb.Span_SPAN_KIND_PRODUCER:
		zs.Kind = model.Producer
	case tracepb.Span_SPAN_KIND_CONSUMER:
		zs.Kind = model.Consumer
	case tracepb.Span_SPAN_KIND_INTERNAL:
		tags[tagSpanKind] = "internal"
	}

	zs.LocalEndpoint = &model.Endpoint{ServiceName: service}
	takeAddress(zs.LocalEndpoint, tags, false, [2]string{"network.local.address", "network.local.port"}, [2]string{"net.host.ip", "net.host.port"})
	zs.RemoteEndpoint = &model.Endpoint{}
	if s := tags["peer.service"]; s != "" {
		zs.RemoteEndpoint.ServiceName = s
		delete(tags, "peer.service")
	}
	remote := [][2]string{{"network.peer.address", "network.peer.port"}, {"net.sock.peer.addr", "net.sock.peer.port"}, {"net.peer.ip", "net.peer.port"}}
	switch zs.Kind {
	case model.Client, model.Producer, model.Consumer:
		remote = append(remote, [2]string{"server.address", "server.port"})
	case model.Server:
		remote = append(remote, [2]string{"client.address", "client.port"})
	}
	takeAddress(zs.RemoteEndpoint, tags, true, remote...)
	for _, e := range []**model.Endpoint{&zs.LocalEndpoint, &zs.RemoteEndpoint} {
		if (*e).Empty() {
			*e = nil
		}
	}

	st := sp.GetStatus()
	if st.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		tags[tagError] = "true"
	} else {
		delete(tags, tagError)
	}
	if st.GetCode() != tracepb.Status_STATUS_CODE_UNSET {
		tags[tagStatusCode] = st.GetCode().String() // STATUS_CODE_OK, STATUS_CODE_ERROR
		if st.GetMessage() != "" {
			tags[tagStatusDescription] = st.GetMessage()
		}
	}

	for _, ev := range sp.GetEvents() {
		t := ev.GetTimeUnixNano()
		if !zipkinTimeOK(t) {
			if t = start; !zipkinTimeOK(t) {
				continue // Zipkin refuses an annotation without a time
			}
		}
		value := strings.ReplaceAll(ev.GetName(), "|", "¦")
		if len(ev.GetAttributes()) > 0 || ev.GetDroppedAttributesCount() > 0 {
			value = fmt.Sprintf(annotationAttrs, value, rawJSON(ev.GetAttributes()), ev.GetDroppedAttributesCount())
		}
		zs.Annotations = append(zs.Annotations, model.Annotation{Timestamp: time.Unix(0, int64(t)), Value: value})
	}
	n := 0
	for _, l := range sp.GetLinks() {
		if len(l.GetTraceId()) != 16 || len(l.GetSpanId()) != 8 || n == maxZipkinLinks {
			continue // the Collector's receiver refuses a request with a bad one
		}
		state := l.GetTraceState()
		if strings.Contains(state, "|") {
			state = ""
		}
		tags[fmt.Sprintf(tagLinkFormat, n)] = fmt.Sprintf(linkFormat, hex.EncodeToString(l.GetTraceId()), hex.EncodeToString(l.GetSpanId()),
			state, rawJSON(l.GetAttributes()), l.GetDroppedAttributesCount())
		n++
	}
	if len(tags) > 0 {
		zs.Tags = tags
	}
	return zs
}

// zipkinTimeOK reports whether a time in Unix nanoseconds is one zipkin-go
// marshals (1970-01-01T00:00:01 or later) and time.Unix takes.
func zipkinTimeOK(ns uint64) bool { return ns >= uint64(time.Second) && ns <= math.MaxInt64 }

// takeAddress sets an endpoint's address and port from the first pair of
// tags whose address is an IP, and removes those tags if remove (the
// network.* and older net.* ones are the endpoint's), or else leaves them
// (server.address, client.address: names a backend indexes).
func takeAddress(e *model.Endpoint, tags map[string]string, peer bool, pairs ...[2]string) {
	for _, p := range pairs {
		ip := net.ParseIP(tags[p[0]])
		if ip == nil {
			continue
		}
		if v4 := ip.To4(); v4 != nil {
			e.IPv4 = v4
		} else {
			e.IPv6 = ip
		}
		remove := !peer || strings.HasPrefix(p[0], "net")
		if remove {
			delete(tags, p[0])
		}
		if port, err := strconv.ParseUint(tags[p[1]], 10, 16); err == nil && port > 0 {
			e.Port = uint16(port)
			if remove {
				delete(tags, p[1])
			}
		}
		return
	}
}

// anyText is an attribute value as a Zipkin tag: a string as it is, other
// values as their text, as the Collector's pcommon.Value.AsString writes
// them (numbers as JSON would, bytes in base64, arrays and maps as JSON).
func anyText(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return floatText(x.DoubleValue)
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue, *commonpb.AnyValue_KvlistValue:
		b, _ := json.Marshal(anyRaw(v, 0)) // cannot fail: anyRaw makes only JSON-safe values
		return string(b)
	}
	return ""
}

// floatText writes a double as JSON does (1.5, 1e+21); NaN and the
// infinities, which JSON has no numbers for, as strconv does.
func floatText(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	b, _ := json.Marshal(f)
	return string(b)
}

// rawJSON is attributes as a JSON object, for annotations and links.
func rawJSON(kvs []*commonpb.KeyValue) []byte {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = anyRaw(kv.GetValue(), 0)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return []byte("{}")
	}
	return b
}

// anyRaw is a value as JSON can hold it: NaN and infinities as strings,
// nesting bounded as the sink bounds it.
func anyRaw(v *commonpb.AnyValue, depth int) any {
	if depth > maxDepth {
		return nil
	}
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		if math.IsNaN(x.DoubleValue) || math.IsInf(x.DoubleValue, 0) {
			return floatText(x.DoubleValue)
		}
		return x.DoubleValue
	case *commonpb.AnyValue_BytesValue:
		return x.BytesValue // base64 in JSON
	case *commonpb.AnyValue_ArrayValue:
		out := make([]any, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			out = append(out, anyRaw(e, depth+1))
		}
		return out
	case *commonpb.AnyValue_KvlistValue:
		out := make(map[string]any, len(x.KvlistValue.GetValues()))
		for _, kv := range x.KvlistValue.GetValues() {
			out[kv.GetKey()] = anyRaw(kv.GetValue(), depth+1)
		}
		return out
	}
	return nil
}

// forwardHTTPClient is the HTTP client of the forwarding senders: the
// default transport's settings (proxy from the environment), not shared.
func forwardHTTPClient() *http.Client {
	transport := &http.Transport{Proxy: http.ProxyFromEnvironment}
	if t, ok := http.DefaultTransport.(*http.Transport); ok { // another plugin may have wrapped it
		transport = t.Clone()
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: transport}
}
