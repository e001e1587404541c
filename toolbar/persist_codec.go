package toolbar

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// chunk is what one commit added to one trace in the storage file: its
// spans and log records, in arrival order.
type chunk struct {
	trace TraceID
	spans []Span
	logs  []LogRecord
}

// The chunk encoding, version chunkVersion: the version byte, the trace
// id, then the spans and the logs, each list a count and its items.
// Integers are varints (encoding/binary), ids their bytes, a float64 its
// IEEE bits (little endian), a time a byte 0 (zero) or 1 followed by Unix
// seconds and nanoseconds. A string is a literal, uvarint(len<<1) and its
// bytes, or uvarint(i<<1|1) for the chunk's i-th non-empty literal: an
// export repeats its attribute keys and names on every span. A span's
// resource and scope are 0 (none), 1 followed by a new one, or i+2 for the
// chunk's i-th, so spans that shared one in memory share it again.
const chunkVersion = 1

type encoder struct {
	b      []byte
	strs   map[string]uint64
	res    map[*Resource]uint64
	scopes map[*Scope]uint64
}

func newEncoder() *encoder {
	return &encoder{strs: map[string]uint64{}, res: map[*Resource]uint64{}, scopes: map[*Scope]uint64{}}
}

func (c *chunk) encode() []byte {
	e := newEncoder()
	e.b = append(e.b, chunkVersion)
	e.b = append(e.b, c.trace[:]...)
	e.uvarint(uint64(len(c.spans)))
	for i := range c.spans {
		e.span(&c.spans[i])
	}
	e.uvarint(uint64(len(c.logs)))
	for i := range c.logs {
		e.log(&c.logs[i])
	}
	return e.b
}

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }

func (e *encoder) str(s string) {
	if i, ok := e.strs[s]; ok {
		e.uvarint(i<<1 | 1)
		return
	}
	e.uvarint(uint64(len(s)) << 1)
	e.b = append(e.b, s...)
	if s != "" {
		e.strs[s] = uint64(len(e.strs))
	}
}

func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.b = append(e.b, 0)
		return
	}
	e.b = append(e.b, 1)
	e.varint(t.Unix())
	e.uvarint(uint64(t.Nanosecond()))
}

func (e *encoder) resource(r *Resource) {
	if r == nil {
		e.uvarint(0)
		return
	}
	if i, ok := e.res[r]; ok {
		e.uvarint(i + 2)
		return
	}
	e.res[r] = uint64(len(e.res))
	e.uvarint(1)
	e.kvs(r.Attributes, 0)
	e.uvarint(uint64(r.DroppedAttributes))
	e.str(r.SchemaURL)
}

func (e *encoder) scope(s *Scope) {
	if s == nil {
		e.uvarint(0)
		return
	}
	if i, ok := e.scopes[s]; ok {
		e.uvarint(i + 2)
		return
	}
	e.scopes[s] = uint64(len(e.scopes))
	e.uvarint(1)
	e.str(s.Name)
	e.str(s.Version)
	e.kvs(s.Attributes, 0)
	e.uvarint(uint64(s.DroppedAttributes))
	e.str(s.SchemaURL)
}

func (e *encoder) span(sp *Span) {
	e.b = append(e.b, sp.SpanID[:]...)
	e.b = append(e.b, sp.ParentSpanID[:]...)
	e.str(sp.TraceState)
	e.uvarint(uint64(sp.Flags))
	e.str(sp.Name)
	e.varint(int64(sp.Kind))
	e.time(sp.Start)
	e.time(sp.End)
	e.kvs(sp.Attributes, 0)
	e.uvarint(uint64(sp.DroppedAttributes))
	e.uvarint(uint64(len(sp.Events)))
	for _, ev := range sp.Events {
		e.time(ev.Time)
		e.str(ev.Name)
		e.kvs(ev.Attributes, 0)
		e.uvarint(uint64(ev.DroppedAttributes))
	}
	e.uvarint(uint64(sp.DroppedEvents))
	e.uvarint(uint64(len(sp.Links)))
	for _, l := range sp.Links {
		e.b = append(e.b, l.TraceID[:]...)
		e.b = append(e.b, l.SpanID[:]...)
		e.str(l.TraceState)
		e.uvarint(uint64(l.Flags))
		e.kvs(l.Attributes, 0)
		e.uvarint(uint64(l.DroppedAttributes))
	}
	e.uvarint(uint64(sp.DroppedLinks))
	e.varint(int64(sp.Status.Code))
	e.str(sp.Status.Message)
	e.resource(sp.Resource)
	e.scope(sp.Scope)
}

func (e *encoder) log(l *LogRecord) {
	e.time(l.Time)
	e.time(l.ObservedTime)
	e.varint(int64(l.SeverityNumber))
	e.str(l.SeverityText)
	e.value(l.Body, 0)
	e.b = append(e.b, l.SpanID[:]...)
	e.str(l.Service)
	e.kvs(l.Attributes, 0)
}

// interner shares the resources and scopes of all chunks read at start-up
// that are equal, as the spans of one export share them in memory.
type interner struct {
	resources map[string]*Resource
	scopes    map[string]*Scope
}

func (in *interner) resource(r *Resource) *Resource {
	e := newEncoder()
	e.resource(r)
	if old, ok := in.resources[string(e.b)]; ok {
		return old
	}
	in.resources[string(e.b)] = r
	return r
}

func (in *interner) scope(s *Scope) *Scope {
	e := newEncoder()
	e.scope(s)
	if old, ok := in.scopes[string(e.b)]; ok {
		return old
	}
	in.scopes[string(e.b)] = s
	return s
}

type decoder struct {
	b      []byte
	err    error
	strs   []string
	res    []*Resource
	scopes []*Scope
	in     *interner // or nil
}

var errShort = errors.New("truncated")

// decodeChunk reads what chunk.encode wrote; in, if not nil, shares
// resources and scopes with earlier chunks.
func decodeChunk(b []byte, in *interner) (*chunk, error) {
	if len(b) == 0 || b[0] != chunkVersion {
		return nil, fmt.Errorf("not a chunk of version %d", chunkVersion)
	}
	d := &decoder{b: b[1:], in: in}
	c := &chunk{}
	copy(c.trace[:], d.fixed(len(c.trace)))
	if n := d.count(minSpan); n > 0 {
		c.spans = make([]Span, n)
		for i := range c.spans {
			d.span(&c.spans[i], c.trace)
		}
	}
	if n := d.count(minLog); n > 0 {
		c.logs = make([]LogRecord, n)
		for i := range c.logs {
			d.log(&c.logs[i], c.trace)
		}
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d bytes after the end", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return c, nil
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) fixed(n int) []byte {
	if len(d.b) < n {
		d.fail(errShort)
		return make([]byte, n)
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint32() uint32 {
	v := d.uvarint()
	if v > math.MaxUint32 {
		d.fail(fmt.Errorf("%d overflows 32 bits", v))
	}
	return uint32(v)
}

func (d *decoder) int32() int32 {
	v := d.varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail(fmt.Errorf("%d overflows 32 bits", v))
	}
	return int32(v)
}

// Fewest bytes an item of a list takes, which bounds what a count may
// claim (and allocate) in the bytes left.
const (
	minSpan  = 2*8 + 16
	minLog   = 8 + 7
	minEvent = 4
	minLink  = 16 + 8 + 4
	minKV    = 2
)

// count reads a list's length: items of at least min bytes each.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/min) {
		d.fail(fmt.Errorf("%d items in %d bytes", n, len(d.b)))
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	v := d.uvarint()
	if v&1 == 1 {
		if i := v >> 1; i < uint64(len(d.strs)) {
			return d.strs[i]
		}
		d.fail(fmt.Errorf("string %d of %d", v>>1, len(d.strs)))
		return ""
	}
	n := v >> 1
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	if s != "" {
		d.strs = append(d.strs, s)
	}
	return s
}

func (d *decoder) time() time.Time {
	switch flag := d.fixed(1)[0]; {
	case d.err != nil || flag == 0:
		return time.Time{}
	case flag != 1:
		d.fail(fmt.Errorf("time flag %d", flag))
		return time.Time{}
	}
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		d.fail(fmt.Errorf("%d nanoseconds", nsec))
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec))
}

func (d *decoder) resource() *Resource {
	switch ref := d.uvarint(); {
	case ref == 0:
		return nil
	case ref == 1:
		r := &Resource{Attributes: d.kvs(0), DroppedAttributes: d.uint32(), SchemaURL: d.str()}
		if d.in != nil && d.err == nil {
			r = d.in.resource(r)
		}
		d.res = append(d.res, r)
		return r
	case ref-2 < uint64(len(d.res)):
		return d.res[ref-2]
	default:
		d.fail(fmt.Errorf("resource %d of %d", ref-2, len(d.res)))
		return nil
	}
}

func (d *decoder) scope() *Scope {
	switch ref := d.uvarint(); {
	case ref == 0:
		return nil
	case ref == 1:
		s := &Scope{Name: d.str(), Version: d.str(), Attributes: d.kvs(0), DroppedAttributes: d.uint32(), SchemaURL: d.str()}
		if d.in != nil && d.err == nil {
			s = d.in.scope(s)
		}
		d.scopes = append(d.scopes, s)
		return s
	case ref-2 < uint64(len(d.scopes)):
		return d.scopes[ref-2]
	default:
		d.fail(fmt.Errorf("scope %d of %d", ref-2, len(d.scopes)))
		return nil
	}
}

func (d *decoder) span(sp *Span, trace TraceID) {
	sp.TraceID = trace
	copy(sp.SpanID[:], d.fixed(8))
	copy(sp.ParentSpanID[:], d.fixed(8))
	sp.TraceState = d.str()
	sp.Flags = d.uint32()
	sp.Name = d.str()
	sp.Kind = SpanKind(d.int32())
	sp.Start = d.time()
	sp.End = d.time()
	sp.Attributes = d.kvs(0)
	sp.DroppedAttributes = d.uint32()
	if n := d.count(minEvent); n > 0 {
		sp.Events = make([]Event, n)
		for i := range sp.Events {
			ev := &sp.Events[i]
			ev.Time = d.time()
			ev.Name = d.str()
			ev.Attributes = d.kvs(0)
			ev.DroppedAttributes = d.uint32()
		}
	}
	sp.DroppedEvents = d.uint32()
	if n := d.count(minLink); n > 0 {
		sp.Links = make([]Link, n)
		for i := range sp.Links {
			l := &sp.Links[i]
			copy(l.TraceID[:], d.fixed(16))
			copy(l.SpanID[:], d.fixed(8))
			l.TraceState = d.str()
			l.Flags = d.uint32()
			l.Attributes = d.kvs(0)
			l.DroppedAttributes = d.uint32()
		}
	}
	sp.DroppedLinks = d.uint32()
	sp.Status.Code = StatusCode(d.int32())
	sp.Status.Message = d.str()
	sp.Resource = d.resource()
	sp.Scope = d.scope()
}

func (d *decoder) log(l *LogRecord, trace TraceID) {
	l.TraceID = trace
	l.Time = d.time()
	l.ObservedTime = d.time()
	l.SeverityNumber = d.int32()
	l.SeverityText = d.str()
	l.Body = d.value(0)
	copy(l.SpanID[:], d.fixed(8))
	l.Service = d.str()
	l.Attributes = d.kvs(0)
}
