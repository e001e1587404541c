package toolbar

import (
	"encoding/json"
	"net/textproto"
)

// HeaderField is one header line as stored.
type HeaderField struct{ Name, Value string }

// Headers is a stored header set: one slice for all its fields, the values
// of a name adjacent and in order. Every proxied request stores four, so
// they are built without a map; the API serves them as the object of
// arrays http.Header marshals to.
type Headers []HeaderField

// Get returns the first value of the header name (any case), or "".
func (h Headers) Get(name string) string {
	name = textproto.CanonicalMIMEHeaderKey(name)
	for _, f := range h {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// Values returns the value of each field of h named name (any case), in
// order; nil when there is none.
func (h Headers) Values(name string) []string {
	name = textproto.CanonicalMIMEHeaderKey(name)
	var out []string
	for _, f := range h {
		if f.Name == name {
			out = append(out, f.Value)
		}
	}
	return out
}

// MarshalJSON writes h as {"Name": ["value", ...], ...}, names sorted, and
// nil as null.
func (h Headers) MarshalJSON() ([]byte, error) {
	if h == nil {
		return []byte("null"), nil
	}
	m := make(map[string][]string, len(h))
	for _, f := range h {
		m[f.Name] = append(m[f.Name], f.Value)
	}
	return json.Marshal(m)
}
