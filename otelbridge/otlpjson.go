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
	if err := hexIDsToBase64(doc, 0); err != nil {
		return err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, req)
}

func hexIDsToBase64(v any, depth int) error {
	if depth > 64 {
		return errors.New("JSON nested too deeply")
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch k {
			case "traceId", "spanId", "parentSpanId":
				if s, ok := e.(string); ok {
					b, err := hex.DecodeString(s)
					if err != nil {
						// One byte: a length no id has, so the span is
						// rejected alone (partial success), as in protobuf.
						b = []byte{0}
					}
					x[k] = base64.StdEncoding.EncodeToString(b)
					continue
				}
			}
			if err := hexIDsToBase64(e, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := hexIDsToBase64(e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
