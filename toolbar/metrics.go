package toolbar

// The app's metrics: OTLP metric points the sink received, kept per
// series (service, metric name, attribute set), the newest points of each,
// so the Metrics panel can show what a service measured around a request
// (GET /api/metrics, metrics_api.go).

import (
	"cmp"
	"container/list"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// MetricKind is the type of a metric's data, as OTLP names them.
type MetricKind string

// Metric kinds.
const (
	MetricGauge                MetricKind = "gauge"
	MetricSum                  MetricKind = "sum"
	MetricHistogram            MetricKind = "histogram"
	MetricExponentialHistogram MetricKind = "exponential_histogram"
	MetricSummary              MetricKind = "summary"
)

// Metric describes a series: which service measured what, with which
// attributes. Service, Name and Attributes identify it.
type Metric struct {
	Service     string     `json:"service"`
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Unit        string     `json:"unit,omitempty"`
	Kind        MetricKind `json:"kind"`
	// Temporality of sums and histograms: "cumulative" (each point counts
	// from Start) or "delta" (each point counts since the previous one).
	Temporality string     `json:"temporality,omitempty"`
	Monotonic   bool       `json:"monotonic,omitempty"` // a sum that only grows: a counter
	Scope       string     `json:"scope,omitempty"`     // the instrumentation scope's name
	Attributes  []KeyValue `json:"attributes"`
}

// MetricPoint is one data point. Which fields hold data depends on the
// metric's kind: Value for gauges and sums; Count, Sum, Min and Max for
// histograms and summaries, with Bounds and Counts (explicit buckets:
// len(Counts) == len(Bounds)+1), or Scale, ZeroCount, Positive and
// Negative (exponential buckets), or Quantiles.
type MetricPoint struct {
	Start, Time time.Time
	Value       float64
	Count       uint64
	Sum         float64
	Min, Max    *float64
	Bounds      []float64
	Counts      []uint64
	Scale       int32
	ZeroCount   uint64
	Positive    ExpBuckets
	Negative    ExpBuckets
	Quantiles   []Quantile
	Exemplars   []Exemplar
}

// ExpBuckets are one side of an exponential histogram: Counts[i] counts
// values in (base^(Offset+i), base^(Offset+i+1)], base = 2^(2^-Scale).
type ExpBuckets struct {
	Offset int32    `json:"offset"`
	Counts []uint64 `json:"counts,omitempty"`
}

// Quantile is a summary's value at quantile Q (0 to 1).
type Quantile struct {
	Q     float64 `json:"q"`
	Value float64 `json:"value"`
}

// Exemplar is a measurement that names the span it was made in: the link
// from a metric to a trace.
type Exemplar struct {
	Time       time.Time
	Value      float64
	TraceID    TraceID
	SpanID     SpanID
	Attributes []KeyValue
	// Request is the id of the record the trace belongs to, when the
	// Store holds one; the API fills it in.
	Request string
}

// MetricSeries is a series and some of its points, oldest first. Before,
// in query answers, is the newest point older than the window, from which
// a cumulative series' change over the window is told.
type MetricSeries struct {
	Metric
	Before *MetricPoint
	Points []MetricPoint
}

// MetricLimits bound a MetricStore; zero fields take the defaults.
type MetricLimits struct {
	Series int // series kept (default 2000); the least recently updated go first
	Points int // newest points kept per series (default 120: one to two hours at the SDKs' 30–60 s interval)
	Bytes  int // estimated bytes of all series (default 32 MiB)
}

func (l MetricLimits) withDefaults() MetricLimits {
	if l.Series <= 0 {
		l.Series = 2000
	}
	if l.Points <= 0 {
		l.Points = 120
	}
	if l.Bytes <= 0 {
		l.Bytes = 32 << 20
	}
	return l
}

// maxExemplars bounds the exemplars kept per point; the SDKs send about one
// per bucket.
const maxExemplars = 32

// MetricStore keeps the newest points of recent metric series in memory,
// bounded by MetricLimits. It is safe for concurrent use.
type MetricStore struct {
	limits MetricLimits

	mu     sync.Mutex
	series map[string]*list.Element // of *series, least recently updated at Front
	order  *list.List
	bytes  int
}

type series struct {
	key       string
	metric    Metric
	metaBytes int
	points    []MetricPoint // oldest first
	bytes     int           // metaBytes and the points'
}

// NewMetricStore returns an empty MetricStore bounded by l.
func NewMetricStore(l MetricLimits) *MetricStore {
	return &MetricStore{limits: l.withDefaults(), series: map[string]*list.Element{}, order: list.New()}
}

// Add stores the points of each series, taking ownership of them. A point
// at the time of one already kept replaces it (a retried export). Points
// that cannot be shown (no time, a value that is not finite, buckets that
// do not match their bounds) are left out and counted as rejected; so are
// the points of a series without a name or with an unknown kind.
func (m *MetricStore) Add(batch []MetricSeries) (rejected int) {
	// Keys and checks first, outside the lock.
	keys := make([]string, len(batch))
	for i := range batch {
		in := &batch[i]
		if in.Name == "" || !knownKind(in.Kind) {
			rejected += len(in.Points)
			in.Points = nil
			continue
		}
		kept := in.Points[:0]
		for j := range in.Points {
			if validPoint(in.Kind, &in.Points[j]) {
				kept = append(kept, in.Points[j])
			}
		}
		rejected += len(in.Points) - len(kept)
		in.Points = kept
		keys[i] = seriesKey(&in.Metric)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, in := range batch {
		if len(in.Points) == 0 {
			continue
		}
		var s *series
		if e, ok := m.series[keys[i]]; ok {
			s = e.Value.(*series)
			m.order.MoveToBack(e)
			if s.metric.Kind != in.Kind || s.metric.Temporality != in.Temporality {
				m.bytes -= s.bytes - s.metaBytes // a new instrument under the old name
				s.bytes, s.points = s.metaBytes, nil
			}
		} else {
			s = &series{key: keys[i]}
			s.metaBytes = len(s.key) + kvsSize(in.Attributes) + len(in.Description) + len(in.Unit) + len(in.Scope) + 2*kvOverhead
			s.bytes = s.metaBytes
			m.bytes += s.bytes
			m.series[s.key] = m.order.PushBack(s)
		}
		s.metric = in.Metric
		for _, p := range in.Points {
			m.bytes += s.insert(p, m.limits.Points)
		}
	}
	for m.order.Len() > m.limits.Series || m.bytes > m.limits.Bytes && m.order.Len() > 0 {
		s := m.order.Remove(m.order.Front()).(*series)
		delete(m.series, s.key)
		m.bytes -= s.bytes
	}
	return rejected
}

// insert puts p in time order, replacing a point of the same time, and
// drops the oldest beyond limit. It returns the change in bytes.
func (s *series) insert(p MetricPoint, limit int) int {
	before := s.bytes
	if len(p.Exemplars) > maxExemplars {
		p.Exemplars = p.Exemplars[len(p.Exemplars)-maxExemplars:]
	}
	i, found := slices.BinarySearchFunc(s.points, p.Time, func(q MetricPoint, t time.Time) int { return q.Time.Compare(t) })
	switch {
	case found:
		s.bytes += p.size() - s.points[i].size()
		s.points[i] = p
	case i == 0 && len(s.points) >= limit:
		return 0 // older than all the newest points kept
	default:
		s.points = slices.Insert(s.points, i, p)
		s.bytes += p.size()
	}
	for len(s.points) > limit {
		s.bytes -= s.points[0].size()
		s.points[0] = MetricPoint{} // let its buckets go
		s.points = s.points[1:]
	}
	return s.bytes - before
}

func (p *MetricPoint) size() int {
	n := 160 + 8*(len(p.Bounds)+len(p.Counts)+len(p.Positive.Counts)+len(p.Negative.Counts)) + 16*len(p.Quantiles)
	for _, e := range p.Exemplars {
		n += 64 + kvsSize(e.Attributes)
	}
	return n
}

func knownKind(k MetricKind) bool {
	switch k {
	case MetricGauge, MetricSum, MetricHistogram, MetricExponentialHistogram, MetricSummary:
		return true
	}
	return false
}

func finite(fs ...float64) bool {
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}

// validPoint reports whether p can be kept and shown (encoding/json
// refuses NaN and infinities), dropping the exemplars that cannot.
func validPoint(kind MetricKind, p *MetricPoint) bool {
	if p.Time.IsZero() || !finite(p.Value, p.Sum) || p.Min != nil && !finite(*p.Min) || p.Max != nil && !finite(*p.Max) {
		return false
	}
	if kind == MetricHistogram {
		if len(p.Counts) != len(p.Bounds)+1 && (len(p.Counts) != 0 || len(p.Bounds) != 0) {
			return false
		}
		for i, b := range p.Bounds {
			if !finite(b) || i > 0 && b <= p.Bounds[i-1] {
				return false
			}
		}
	}
	for _, q := range p.Quantiles {
		if !finite(q.Q, q.Value) {
			return false
		}
	}
	p.Exemplars = slices.DeleteFunc(p.Exemplars, func(e Exemplar) bool { return !finite(e.Value) })
	return true
}

// seriesKey identifies a series: service, name and the attributes, sorted
// by key, as JSON (unambiguous whatever the strings hold).
func seriesKey(m *Metric) string {
	attrs := slices.SortedFunc(slices.Values(m.Attributes), func(a, b KeyValue) int { return cmp.Compare(a.Key, b.Key) })
	b, _ := json.Marshal(attrs) // Values the store holds always encode
	return m.Service + "\x00" + m.Name + "\x00" + string(b)
}

// Query returns the series of service ("" for all) that have points in
// [from, to] (a zero time: no bound), with those points, sorted by
// service, name and attributes. The answer is the caller's, but the points'
// slices (buckets, exemplars) are shared: do not modify them.
func (m *MetricStore) Query(service string, from, to time.Time) []MetricSeries {
	m.mu.Lock()
	defer m.mu.Unlock()
	type found struct {
		key    string
		series MetricSeries
	}
	var all []found
	for e := m.order.Front(); e != nil; e = e.Next() {
		s := e.Value.(*series)
		if service != "" && s.metric.Service != service {
			continue
		}
		lo := 0
		if !from.IsZero() {
			lo, _ = slices.BinarySearchFunc(s.points, from, func(q MetricPoint, t time.Time) int { return q.Time.Compare(t) })
		}
		hi := len(s.points)
		if !to.IsZero() {
			hi, _ = slices.BinarySearchFunc(s.points, to, func(q MetricPoint, t time.Time) int {
				return cmp.Or(q.Time.Compare(t), -1) // past the points at exactly to
			})
		}
		if lo >= hi {
			continue
		}
		r := MetricSeries{Metric: s.metric, Points: slices.Clone(s.points[lo:hi])}
		if lo > 0 {
			before := s.points[lo-1]
			r.Before = &before
		}
		all = append(all, found{s.key, r})
	}
	slices.SortFunc(all, func(a, b found) int { return strings.Compare(a.key, b.key) })
	out := make([]MetricSeries, len(all))
	for i, f := range all {
		out[i] = f.series
	}
	return out
}

// Services returns the services that have series, sorted.
func (m *MetricStore) Services() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	for _, e := range m.series {
		seen[e.Value.(*series).metric.Service] = true
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}
