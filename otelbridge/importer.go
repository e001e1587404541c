package otelbridge

// Importing a trace a colleague shared: the toolbar's POST /api/import
// reads OTLP/JSON (a file the toolbar exported, the _spans of its HAR, or
// a trace saved from Jaeger's or Tempo's API) through the same decoding
// and redaction as the backend's answers.

import (
	"fmt"

	"github.com/tracebar/tracebar/toolbar"
)

// DecodeTraces reads an OTLP/JSON ExportTraceServiceRequest into spans,
// redacted with r as the sink redacts received spans (nil: the built-in
// rules). Ids may be hex (OTLP/JSON) or base64 (protobuf's JSON mapping,
// as Tempo writes it); a Jaeger API v3 answer ({"result": ...}) or a
// Tempo one ({"batches": ...} with OTLP's older field names, or
// {"trace": ...}) reads as well. A span with an invalid
// trace or span id fails the whole import: a shared file is either read
// as it was written or refused with a reason. Use it as the toolbar API's
// DecodeTraces.
func DecodeTraces(body []byte, r *toolbar.Redactor) ([]toolbar.Span, error) {
	// Any API but Zipkin's reads OTLP/JSON, with either spelling of ids.
	rss, err := decodeBackendTrace(BackendJaeger, body)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	redactSpans(rss, r)
	spans, rejected := fromProto(rss)
	if rejected > 0 {
		return nil, fmt.Errorf("import: %d of %d spans have an invalid trace or span id", rejected, rejected+len(spans))
	}
	return spans, nil
}
