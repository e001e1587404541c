package otelbridge

// OTLP/JSON decoding: protojson, after hex ids are turned into the
// base64 protojson expects.

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"

	_ "google.golang.org/grpc/encoding/gzip" // OTLP/gRPC exporters may compress
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// unmarshalJSON decodes OTLP/JSON. protojson reads bytes fields as base64,
// but OTLP/JSON spells trace and span ids in hex: rewrite them first.
func unmarshalJSON(body []byte, req proto.Message) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return err
	}
	if err := idsToBase64(doc, 0, hexID, nil); err != nil {
		return err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, req)
}

// hexID is an OTLP/JSON id (hex) as protojson reads it (base64). Not hex:
// one byte, a length no id has, so the span is rejected alone (partial
// success), as in protobuf.
func hexID(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil {
		b = []byte{0}
	}
	return base64.StdEncoding.EncodeToString(b)
}

// idsToBase64 readies a decoded OTLP/JSON document for protojson: every
// trace and span id becomes id's answer for it, and the fields named
// renamed[i][0] are renamed to renamed[i][1] (older OTLP field names).
func idsToBase64(v any, depth int, id func(string) string, renamed [][2]string) error {
	if depth > 64 {
		return errors.New("JSON nested too deeply")
	}
	switch x := v.(type) {
	case map[string]any:
		for _, pair := range renamed {
			if e, ok := x[pair[0]]; ok {
				if _, dup := x[pair[1]]; !dup {
					x[pair[1]] = e
				}
				delete(x, pair[0])
			}
		}
		for k, e := range x {
			switch k {
			case "traceId", "spanId", "parentSpanId":
				if s, ok := e.(string); ok {
					x[k] = id(s)
					continue
				}
			}
			if err := idsToBase64(e, depth+1, id, renamed); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := idsToBase64(e, depth+1, id, renamed); err != nil {
				return err
			}
		}
	}
	return nil
}
