package toolbar

import (
	"reflect"
	"testing"
)

func TestValueHoldsWhatItWasMadeOf(t *testing.T) {
	tests := []struct {
		v    Value
		kind ValueKind
		want any
	}{
		{Value{}, KindEmpty, nil},
		{StringValue("shop"), KindString, "shop"},
		{BoolValue(true), KindBool, true},
		{BoolValue(false), KindBool, false},
		{IntValue(-7), KindInt, int64(-7)},
		{DoubleValue(0.5), KindDouble, 0.5},
		{BytesValue([]byte{0, 255}), KindBytes, []byte{0, 255}},
		{ArrayValue([]Value{IntValue(1)}), KindArray, []Value{IntValue(1)}},
		{ListValue([]KeyValue{{"k", StringValue("v")}}), KindList, []KeyValue{{"k", StringValue("v")}}},
		{ValueOf(443), KindInt, int64(443)},
		{ValueOf(struct{}{}), KindString, "{}"},
	}
	for _, tt := range tests {
		if tt.v.Kind() != tt.kind || !reflect.DeepEqual(tt.v.Any(), tt.want) {
			t.Errorf("%#v: kind %d holding %#v, want %d holding %#v", tt.v, tt.v.Kind(), tt.v.Any(), tt.kind, tt.want)
		}
		if got := ValueOf(tt.v.Any()); !reflect.DeepEqual(got, tt.v) {
			t.Errorf("ValueOf(%#v) = %#v, want %#v", tt.v.Any(), got, tt.v)
		}
	}
}

func TestValueAccessorsGiveZeroForOtherKinds(t *testing.T) {
	v := IntValue(3)
	if v.AsString() != "" || v.AsBool() || v.AsFloat64() != 0 || v.AsBytes() != nil || v.AsArray() != nil || v.AsList() != nil {
		t.Errorf("an int read as other kinds: %q %v %v %v %v %v", v.AsString(), v.AsBool(), v.AsFloat64(), v.AsBytes(), v.AsArray(), v.AsList())
	}
	if s := StringValue("3"); s.AsInt64() != 0 {
		t.Errorf("a string read as an int: %d", s.AsInt64())
	}
}
