package toolbar

import (
	"encoding/json"
	"strconv"
	"time"
)

// The OTLP/JSON shapes the API emits: ids in hex, 64-bit integers as
// strings, enums as numbers, as the OTLP specification's JSON mapping says.
type (
	jsonTraces struct {
		ResourceSpans []jsonResourceSpans `json:"resourceSpans"`
	}
	jsonResourceSpans struct {
		Resource   jsonResource     `json:"resource"`
		ScopeSpans []jsonScopeSpans `json:"scopeSpans"`
		SchemaURL  string           `json:"schemaUrl,omitempty"`
	}
	jsonResource struct {
		Attributes        []KeyValue `json:"attributes"`
		DroppedAttributes uint32     `json:"droppedAttributesCount,omitempty"`
	}
	jsonScopeSpans struct {
		Scope     jsonScope  `json:"scope"`
		Spans     []jsonSpan `json:"spans"`
		SchemaURL string     `json:"schemaUrl,omitempty"`
	}
	jsonScope struct {
		Name              string     `json:"name,omitempty"`
		Version           string     `json:"version,omitempty"`
		Attributes        []KeyValue `json:"attributes,omitempty"`
		DroppedAttributes uint32     `json:"droppedAttributesCount,omitempty"`
	}
	jsonSpan struct {
		TraceID           string      `json:"traceId"`
		SpanID            string      `json:"spanId"`
		ParentSpanID      string      `json:"parentSpanId,omitempty"`
		TraceState        string      `json:"traceState,omitempty"`
		Flags             uint32      `json:"flags,omitempty"`
		Name              string      `json:"name"`
		Kind              SpanKind    `json:"kind"`
		Start             unixNano    `json:"startTimeUnixNano"`
		End               unixNano    `json:"endTimeUnixNano"`
		Attributes        []KeyValue  `json:"attributes,omitempty"`
		DroppedAttributes uint32      `json:"droppedAttributesCount,omitempty"`
		Events            []jsonEvent `json:"events,omitempty"`
		DroppedEvents     uint32      `json:"droppedEventsCount,omitempty"`
		Links             []jsonLink  `json:"links,omitempty"`
		DroppedLinks      uint32      `json:"droppedLinksCount,omitempty"`
		Status            jsonStatus  `json:"status"`
	}
	jsonEvent struct {
		Time              unixNano   `json:"timeUnixNano"`
		Name              string     `json:"name"`
		Attributes        []KeyValue `json:"attributes,omitempty"`
		DroppedAttributes uint32     `json:"droppedAttributesCount,omitempty"`
	}
	jsonLink struct {
		TraceID           string     `json:"traceId"`
		SpanID            string     `json:"spanId"`
		TraceState        string     `json:"traceState,omitempty"`
		Flags             uint32     `json:"flags,omitempty"`
		Attributes        []KeyValue `json:"attributes,omitempty"`
		DroppedAttributes uint32     `json:"droppedAttributesCount,omitempty"`
	}
	jsonStatus struct {
		Code    StatusCode `json:"code,omitempty"`
		Message string     `json:"message,omitempty"`
	}
)

// unixNano is a time as OTLP/JSON writes it: decimal nanoseconds in a string.
type unixNano time.Time

func (t unixNano) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte(`"0"`), nil
	}
	return []byte(`"` + strconv.FormatInt(tt.UnixNano(), 10) + `"`), nil
}

// MarshalOTLPJSON encodes spans as an OTLP/JSON ExportTraceServiceRequest,
// grouped by resource and scope in order of first appearance.
func MarshalOTLPJSON(spans []Span) ([]byte, error) {
	out := jsonTraces{ResourceSpans: []jsonResourceSpans{}}
	type scopeKey struct {
		r *Resource
		s *Scope
	}
	resIdx := map[*Resource]int{}
	scopeIdx := map[scopeKey]int{}
	for i := range spans {
		sp := &spans[i]
		ri, ok := resIdx[sp.Resource]
		if !ok {
			ri = len(out.ResourceSpans)
			resIdx[sp.Resource] = ri
			rs := jsonResourceSpans{Resource: jsonResource{Attributes: []KeyValue{}}}
			if sp.Resource != nil {
				rs.Resource = jsonResource{Attributes: orEmpty(sp.Resource.Attributes), DroppedAttributes: sp.Resource.DroppedAttributes}
				rs.SchemaURL = sp.Resource.SchemaURL
			}
			out.ResourceSpans = append(out.ResourceSpans, rs)
		}
		rs := &out.ResourceSpans[ri]
		k := scopeKey{sp.Resource, sp.Scope}
		si, ok := scopeIdx[k]
		if !ok {
			si = len(rs.ScopeSpans)
			scopeIdx[k] = si
			ss := jsonScopeSpans{}
			if sp.Scope != nil {
				ss.Scope = jsonScope{Name: sp.Scope.Name, Version: sp.Scope.Version, Attributes: sp.Scope.Attributes, DroppedAttributes: sp.Scope.DroppedAttributes}
				ss.SchemaURL = sp.Scope.SchemaURL
			}
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		ss := &rs.ScopeSpans[si]
		ss.Spans = append(ss.Spans, toJSONSpan(sp))
	}
	return json.Marshal(out)
}

func toJSONSpan(sp *Span) jsonSpan {
	js := jsonSpan{
		TraceID:           sp.TraceID.String(),
		SpanID:            sp.SpanID.String(),
		TraceState:        sp.TraceState,
		Flags:             sp.Flags,
		Name:              sp.Name,
		Kind:              sp.Kind,
		Start:             unixNano(sp.Start),
		End:               unixNano(sp.End),
		Attributes:        sp.Attributes,
		DroppedAttributes: sp.DroppedAttributes,
		DroppedEvents:     sp.DroppedEvents,
		DroppedLinks:      sp.DroppedLinks,
		Status:            jsonStatus{Code: sp.Status.Code, Message: sp.Status.Message},
	}
	if sp.ParentSpanID.IsValid() {
		js.ParentSpanID = sp.ParentSpanID.String()
	}
	for _, e := range sp.Events {
		js.Events = append(js.Events, jsonEvent{Time: unixNano(e.Time), Name: e.Name, Attributes: e.Attributes, DroppedAttributes: e.DroppedAttributes})
	}
	for _, l := range sp.Links {
		js.Links = append(js.Links, jsonLink{TraceID: l.TraceID.String(), SpanID: l.SpanID.String(), TraceState: l.TraceState, Flags: l.Flags, Attributes: l.Attributes, DroppedAttributes: l.DroppedAttributes})
	}
	return js
}

func orEmpty(kv []KeyValue) []KeyValue {
	if kv == nil {
		return []KeyValue{}
	}
	return kv
}
