package toolbar

import (
	"encoding/hex"
	"fmt"
	"time"
)

// TraceID is a W3C trace id.
type TraceID [16]byte

// SpanID is a W3C span id.
type SpanID [8]byte

// ParseTraceID decodes 32 hex digits; the all-zero id is invalid.
func ParseTraceID(s string) (TraceID, error) {
	var id TraceID
	if err := decodeID(id[:], s); err != nil {
		return id, fmt.Errorf("trace id: %w", err)
	}
	return id, nil
}

// ParseSpanID decodes 16 hex digits; the all-zero id is invalid.
func ParseSpanID(s string) (SpanID, error) {
	var id SpanID
	if err := decodeID(id[:], s); err != nil {
		return id, fmt.Errorf("span id: %w", err)
	}
	return id, nil
}

func decodeID(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("want %d hex digits, got %d", 2*len(dst), len(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return err
	}
	for _, b := range dst {
		if b != 0 {
			return nil
		}
	}
	return fmt.Errorf("all zero")
}

func (t TraceID) String() string { return hex.EncodeToString(t[:]) }

// MarshalText encodes t as 32 hex digits, as the API writes trace ids.
func (t TraceID) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText decodes 32 hex digits.
func (t *TraceID) UnmarshalText(b []byte) error {
	id, err := ParseTraceID(string(b))
	*t = id
	return err
}

// IsValid reports whether t is not all zero.
func (t TraceID) IsValid() bool { return t != TraceID{} }

func (s SpanID) String() string { return hex.EncodeToString(s[:]) }

// IsValid reports whether s is not all zero.
func (s SpanID) IsValid() bool { return s != SpanID{} }

// SpanKind numbers kinds as OTLP does (0 unspecified, 1 internal, 2 server,
// 3 client, 4 producer, 5 consumer).
type SpanKind int32

// Span kinds.
const (
	KindUnspecified SpanKind = iota
	KindInternal
	KindServer
	KindClient
	KindProducer
	KindConsumer
)

// StatusCode numbers statuses as OTLP does.
type StatusCode int32

// Status codes.
const (
	StatusUnset StatusCode = iota
	StatusOK
	StatusError
)

// Span is one finished span, the proxy's own or one an app exported.
// Resource and Scope are shared by the spans of one batch.
type Span struct {
	TraceID      TraceID
	SpanID       SpanID
	ParentSpanID SpanID
	TraceState   string
	Flags        uint32
	Name         string
	Kind         SpanKind
	Start, End   time.Time
	Attributes   []KeyValue
	Events       []Event
	Links        []Link
	Status       Status
	Resource     *Resource
	Scope        *Scope

	DroppedAttributes, DroppedEvents, DroppedLinks uint32
}

// Event is a timed annotation on a span; logs arrive as events too.
type Event struct {
	Time              time.Time
	Name              string
	Attributes        []KeyValue
	DroppedAttributes uint32
}

// Link points from a span to another span, possibly in another trace.
type Link struct {
	TraceID           TraceID
	SpanID            SpanID
	TraceState        string
	Flags             uint32
	Attributes        []KeyValue
	DroppedAttributes uint32
}

// Status is a span's outcome.
type Status struct {
	Code    StatusCode
	Message string
}

// Resource describes the process that produced spans (service.name, ...).
type Resource struct {
	Attributes        []KeyValue
	DroppedAttributes uint32
	SchemaURL         string
}

// Scope names the instrumentation library that produced spans.
type Scope struct {
	Name              string
	Version           string
	Attributes        []KeyValue
	DroppedAttributes uint32
	SchemaURL         string
}

// KeyValue is one attribute.
type KeyValue struct {
	Key   string `json:"key"`
	Value Value  `json:"value"`
}

// Estimated sizes, for the store's byte limit: the fixed part of a value in
// memory, to which string lengths are added. Resource and Scope are shared
// by a batch and not counted per span.
const (
	spanOverhead  = 320
	eventOverhead = 64
	linkOverhead  = 80
	kvOverhead    = 48
)

func (sp *Span) size() int {
	n := spanOverhead + len(sp.Name) + len(sp.TraceState) + len(sp.Status.Message) + kvsSize(sp.Attributes)
	for _, e := range sp.Events {
		n += eventOverhead + len(e.Name) + kvsSize(e.Attributes)
	}
	for _, l := range sp.Links {
		n += linkOverhead + len(l.TraceState) + kvsSize(l.Attributes)
	}
	return n
}

func (l *LogRecord) size() int {
	return spanOverhead + len(l.SeverityText) + len(l.Service) + valueSize(l.Body) + kvsSize(l.Attributes)
}

func kvsSize(kvs []KeyValue) int {
	n := 0
	for _, kv := range kvs {
		n += kvOverhead + len(kv.Key) + valueSize(kv.Value)
	}
	return n
}
