package toolbar

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// ValueKind says which of OTLP's AnyValue fields a Value holds.
type ValueKind uint8

// The kinds of Value, one per AnyValue field; the zero Value is empty.
const (
	KindEmpty ValueKind = iota
	KindString
	KindBool
	KindInt
	KindDouble
	KindBytes
	KindArray
	KindList
)

// Value holds an attribute value as OTLP's AnyValue does. Strings and
// numbers are held in place, not boxed in an interface: attributes are
// most of what the store keeps, and every span the proxy makes has a
// dozen, so a box each was an allocation each.
type Value struct {
	kind  ValueKind
	num   uint64      // a bool, an int64, a float64's bits
	str   string      // a string, bytes
	items *valueItems // an array or a list
}

type valueItems struct {
	values []Value
	list   []KeyValue
}

// StringValue returns a string Value.
func StringValue(s string) Value { return Value{kind: KindString, str: s} }

// BoolValue returns a bool Value.
func BoolValue(b bool) Value {
	v := Value{kind: KindBool}
	if b {
		v.num = 1
	}
	return v
}

// IntValue returns an integer Value.
func IntValue(n int64) Value { return Value{kind: KindInt, num: uint64(n)} }

// DoubleValue returns a floating-point Value.
func DoubleValue(f float64) Value { return Value{kind: KindDouble, num: math.Float64bits(f)} }

// BytesValue returns a bytes Value holding a copy of b.
func BytesValue(b []byte) Value { return Value{kind: KindBytes, str: string(b)} }

// ArrayValue returns an array Value of vs.
func ArrayValue(vs []Value) Value { return Value{kind: KindArray, items: &valueItems{values: vs}} }

// ListValue returns a key-value list Value of kvs.
func ListValue(kvs []KeyValue) Value { return Value{kind: KindList, items: &valueItems{list: kvs}} }

// ValueOf returns the Value of a Go value: nil, string, bool, int, int64,
// float64, []byte, []Value or []KeyValue; anything else is written as
// text, as OTel's attribute.Value.Emit does.
func ValueOf(x any) Value {
	switch x := x.(type) {
	case nil:
		return Value{}
	case string:
		return StringValue(x)
	case bool:
		return BoolValue(x)
	case int:
		return IntValue(int64(x))
	case int64:
		return IntValue(x)
	case float64:
		return DoubleValue(x)
	case []byte:
		return BytesValue(x)
	case []Value:
		return ArrayValue(x)
	case []KeyValue:
		return ListValue(x)
	}
	return StringValue(fmt.Sprint(x))
}

// Kind says what v holds.
func (v Value) Kind() ValueKind { return v.kind }

// AsString returns v's string, or "" when v is no string.
func (v Value) AsString() string {
	if v.kind != KindString {
		return ""
	}
	return v.str
}

// AsBool returns v's bool, or false.
func (v Value) AsBool() bool { return v.kind == KindBool && v.num != 0 }

// AsInt64 returns v's integer, or 0.
func (v Value) AsInt64() int64 {
	if v.kind != KindInt {
		return 0
	}
	return int64(v.num)
}

// AsFloat64 returns v's floating-point number, or 0.
func (v Value) AsFloat64() float64 {
	if v.kind != KindDouble {
		return 0
	}
	return math.Float64frombits(v.num)
}

// AsBytes returns a copy of v's bytes, or nil.
func (v Value) AsBytes() []byte {
	if v.kind != KindBytes {
		return nil
	}
	return []byte(v.str)
}

// AsArray returns v's array, or nil.
func (v Value) AsArray() []Value {
	if v.kind != KindArray {
		return nil
	}
	return v.items.values
}

// AsList returns v's key-value list, or nil.
func (v Value) AsList() []KeyValue {
	if v.kind != KindList {
		return nil
	}
	return v.items.list
}

// Any returns v as the Go value ValueOf takes: nil, string, bool, int64,
// float64, []byte, []Value or []KeyValue.
func (v Value) Any() any {
	switch v.kind {
	case KindString:
		return v.str
	case KindBool:
		return v.AsBool()
	case KindInt:
		return v.AsInt64()
	case KindDouble:
		return v.AsFloat64()
	case KindBytes:
		return v.AsBytes()
	case KindArray:
		return v.items.values
	case KindList:
		return v.items.list
	}
	return nil
}

// MarshalJSON encodes v as an OTLP/JSON AnyValue ({"stringValue": ...}).
func (v Value) MarshalJSON() ([]byte, error) {
	switch v.kind {
	case KindString:
		return json.Marshal(struct {
			S string `json:"stringValue"`
		}{v.str})
	case KindBool:
		return []byte(`{"boolValue":` + strconv.FormatBool(v.AsBool()) + `}`), nil
	case KindInt:
		return []byte(`{"intValue":"` + strconv.FormatInt(v.AsInt64(), 10) + `"}`), nil
	case KindDouble:
		x := v.AsFloat64()
		if math.IsNaN(x) || math.IsInf(x, 0) {
			// OTLP/JSON spells these as strings, like protojson does.
			s := "NaN"
			if math.IsInf(x, 1) {
				s = "Infinity"
			} else if math.IsInf(x, -1) {
				s = "-Infinity"
			}
			return []byte(`{"doubleValue":"` + s + `"}`), nil
		}
		return json.Marshal(struct {
			D float64 `json:"doubleValue"`
		}{x})
	case KindBytes:
		return []byte(`{"bytesValue":"` + base64.StdEncoding.EncodeToString([]byte(v.str)) + `"}`), nil
	case KindArray:
		type values struct {
			V []Value `json:"values"`
		}
		return json.Marshal(struct {
			A values `json:"arrayValue"`
		}{values{v.items.values}})
	case KindList:
		type values struct {
			V []KeyValue `json:"values"`
		}
		return json.Marshal(struct {
			K values `json:"kvlistValue"`
		}{values{v.items.list}})
	}
	return []byte("{}"), nil
}

func valueSize(v Value) int {
	switch v.kind {
	case KindString, KindBytes:
		return len(v.str)
	case KindArray:
		n := 0
		for _, e := range v.items.values {
			n += kvOverhead + valueSize(e)
		}
		return n
	case KindList:
		return kvsSize(v.items.list)
	}
	return 0
}
