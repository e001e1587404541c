package toolbar

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// A Value is a tag byte and the tag's payload: nothing for nil and the two
// booleans, a string (persist_codec.go), a varint, the IEEE bits of a
// float64 in little endian, a length and bytes, or a count and the items of
// an array or a list of attributes. Every kind OTLP's AnyValue has comes
// back as it went (the same Go type, NaN and -0 included), so the API
// shows after a restart what it showed before.

// Value tags.
const (
	valueNil = iota
	valueString
	valueFalse
	valueTrue
	valueInt
	valueDouble
	valueBytes
	valueArray
	valueKVList
)

// maxValueDepth bounds nested arrays and lists, as the OTLP sink does
// (16, otelbridge/convert.go), with room to spare: a deeper value is
// written as nil, and a deeper one read is an error, not a deep recursion.
const maxValueDepth = 64

func (e *encoder) value(v Value, depth int) {
	if depth > maxValueDepth {
		e.b = append(e.b, valueNil)
		return
	}
	switch v.Kind() {
	case KindString:
		e.b = append(e.b, valueString)
		e.str(v.AsString())
	case KindBool:
		if v.AsBool() {
			e.b = append(e.b, valueTrue)
		} else {
			e.b = append(e.b, valueFalse)
		}
	case KindInt:
		e.b = append(e.b, valueInt)
		e.varint(v.AsInt64())
	case KindDouble:
		e.b = append(e.b, valueDouble)
		e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(v.AsFloat64()))
	case KindBytes:
		e.b = append(e.b, valueBytes)
		e.uvarint(uint64(len(v.str)))
		e.b = append(e.b, v.str...)
	case KindArray:
		e.b = append(e.b, valueArray)
		e.uvarint(uint64(len(v.AsArray())))
		for _, el := range v.AsArray() {
			e.value(el, depth+1)
		}
	case KindList:
		e.b = append(e.b, valueKVList)
		e.kvs(v.AsList(), depth+1)
	default:
		e.b = append(e.b, valueNil)
	}
}

func (e *encoder) kvs(kvs []KeyValue, depth int) {
	e.uvarint(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		e.value(kv.Value, depth)
	}
}

func (d *decoder) value(depth int) Value {
	tag := d.fixed(1)[0]
	if d.err != nil {
		return Value{}
	}
	if depth > maxValueDepth && tag != valueNil { // what encode writes there
		d.fail(errors.New("values nested too deep"))
		return Value{}
	}
	switch tag {
	case valueNil:
		return Value{}
	case valueString:
		return StringValue(d.str())
	case valueFalse:
		return BoolValue(false)
	case valueTrue:
		return BoolValue(true)
	case valueInt:
		return IntValue(d.varint())
	case valueDouble:
		return DoubleValue(math.Float64frombits(binary.LittleEndian.Uint64(d.fixed(8))))
	case valueBytes:
		return BytesValue(d.fixed(d.count(1)))
	case valueArray:
		vals := make([]Value, d.count(1))
		for i := range vals {
			vals[i] = d.value(depth + 1)
		}
		return ArrayValue(vals)
	case valueKVList:
		kvs := d.kvs(depth + 1)
		if kvs == nil {
			kvs = []KeyValue{}
		}
		return ListValue(kvs)
	}
	d.fail(fmt.Errorf("value tag %d", tag))
	return Value{}
}

// kvs reads a list of attributes; an empty one is nil.
func (d *decoder) kvs(depth int) []KeyValue {
	n := d.count(minKV)
	if n == 0 {
		return nil
	}
	kvs := make([]KeyValue, n)
	for i := range kvs {
		kvs[i].Key = d.str()
		kvs[i].Value = d.value(depth)
	}
	return kvs
}
