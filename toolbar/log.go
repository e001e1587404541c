package toolbar

import (
	"encoding/json"
	"time"
)

// LogRecord is an OTLP log record that names a trace: the toolbar shows it
// with that trace, beside the spans' events.
type LogRecord struct {
	Time, ObservedTime time.Time
	SeverityNumber     int32
	SeverityText       string
	Body               Value
	TraceID            TraceID
	SpanID             SpanID // zero when the record names no span
	Service            string // service.name of the record's resource
	Attributes         []KeyValue
}

// MarshalJSON encodes l in the API's shape: OTLP/JSON field names, ids in
// hex, the body as text when it is a string.
func (l LogRecord) MarshalJSON() ([]byte, error) {
	var body any = l.Body
	if l.Body.Kind() == KindString {
		body = l.Body.AsString()
	}
	span := ""
	if l.SpanID.IsValid() {
		span = l.SpanID.String()
	}
	t := l.Time
	if t.IsZero() {
		t = l.ObservedTime // the spec's fallback for a record without a time
	}
	return json.Marshal(struct {
		Time           unixNano   `json:"timeUnixNano"`
		SeverityNumber int32      `json:"severityNumber"`
		SeverityText   string     `json:"severityText,omitempty"`
		Body           any        `json:"body"`
		TraceID        string     `json:"traceId"`
		SpanID         string     `json:"spanId,omitempty"`
		Service        string     `json:"service,omitempty"`
		Attributes     []KeyValue `json:"attributes"`
	}{unixNano(t), l.SeverityNumber, l.SeverityText, body, l.TraceID.String(), span, l.Service, orEmpty(l.Attributes)})
}
