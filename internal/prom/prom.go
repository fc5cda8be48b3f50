package prom

import (
	"cmp"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// A collector appends its families (unsorted, possibly empty) to out.
type collector func(out []*dto.MetricFamily) []*dto.MetricFamily

// Registry holds live metrics; [Registry.Handler] serves them.
type Registry struct {
	mu         sync.Mutex
	collectors []collector
	names      map[string]bool
	now        func() time.Time
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{names: map[string]bool{}, now: time.Now}
}

func (r *Registry) add(name string, c collector) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[name] {
		panic(fmt.Sprintf("prom: metric %s registered twice", name))
	}
	r.names[name] = true
	r.collectors = append(r.collectors, c)
}

// Gather returns every family of r, normalised (see the package doc). The
// error is always nil (as client_golang's Gather, whose shape it keeps, it
// would report a collector's failure; these collectors cannot fail).
func (r *Registry) Gather() ([]*dto.MetricFamily, error) {
	r.mu.Lock()
	cs := slices.Clone(r.collectors)
	r.mu.Unlock()
	var out []*dto.MetricFamily
	for _, c := range cs {
		out = c(out)
	}
	return Normalize(out), nil
}

// Normalize sorts fams as client_golang's Gather does (see the package
// doc) and leaves out the families without metrics.
func Normalize(fams []*dto.MetricFamily) []*dto.MetricFamily {
	out := fams[:0:0]
	for _, f := range fams {
		if len(f.Metric) == 0 {
			continue
		}
		for _, m := range f.Metric {
			slices.SortFunc(m.Label, func(a, b *dto.LabelPair) int { return cmp.Compare(a.GetName(), b.GetName()) })
			if s := m.Summary; s != nil {
				slices.SortFunc(s.Quantile, func(a, b *dto.Quantile) int { return cmp.Compare(a.GetQuantile(), b.GetQuantile()) })
			}
		}
		slices.SortStableFunc(f.Metric, compareMetrics)
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return cmp.Compare(a.GetName(), b.GetName()) })
	return out
}

// compareMetrics orders metrics by their label values, pair by pair, as
// client_golang's metricSorter does.
func compareMetrics(a, b *dto.Metric) int {
	for i := range min(len(a.Label), len(b.Label)) {
		if c := strings.Compare(a.Label[i].GetValue(), b.Label[i].GetValue()); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a.Label), len(b.Label))
}

// WriteText writes fams in the text exposition format (version 0.0.4),
// normalised first.
func WriteText(w io.Writer, fams []*dto.MetricFamily) error {
	for _, f := range Normalize(fams) {
		if _, err := expfmt.MetricFamilyToText(w, f); err != nil {
			return fmt.Errorf("writing metric %s: %w", f.GetName(), err)
		}
	}
	return nil
}

// Handler serves r in the exposition format the request negotiates (text
// unless it asks for protobuf), gzipped when it accepts gzip, as
// promhttp.HandlerFor does; it counts encoding failures in
// promhttp_metric_handler_errors_total, which it adds to r.
func (r *Registry) Handler() http.Handler {
	errs := r.CounterVec("promhttp_metric_handler_errors_total",
		"Total number of internal errors encountered by the promhttp metric handler.", "cause")
	errs.WithLabelValues("encoding").Add(0)
	errs.WithLabelValues("gathering").Add(0)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		fams, _ := r.Gather()
		format := expfmt.Negotiate(req.Header)
		w.Header().Set("Content-Type", string(format))
		var out io.Writer = w
		if acceptsGzip(req.Header.Get("Accept-Encoding")) {
			w.Header().Set("Content-Encoding", "gzip")
			gz := gzip.NewWriter(w)
			defer gz.Close()
			out = gz
		}
		enc := expfmt.NewEncoder(out, format)
		for _, f := range fams {
			if err := enc.Encode(f); err != nil {
				errs.WithLabelValues("encoding").Inc()
				return
			}
		}
		if c, ok := enc.(expfmt.Closer); ok {
			if err := c.Close(); err != nil {
				errs.WithLabelValues("encoding").Inc()
			}
		}
	})
}

// acceptsGzip reports whether an Accept-Encoding header value accepts
// gzip (named, without q=0).
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// value is a float64 updated atomically.
type value struct{ bits atomic.Uint64 }

func (v *value) load() float64 { return math.Float64frombits(v.bits.Load()) }
func (v *value) set(f float64) { v.bits.Store(math.Float64bits(f)) }
func (v *value) add(f float64) {
	for {
		old := v.bits.Load()
		if v.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+f)) {
			return
		}
	}
}

// Counter is a value that only goes up.
type Counter struct {
	v       value
	labels  []*dto.LabelPair
	created time.Time
}

// Inc adds 1.
func (c *Counter) Inc() { c.v.add(1) }

// Add adds d, which must not be negative.
func (c *Counter) Add(d float64) {
	if d < 0 {
		panic("prom: a counter cannot go down")
	}
	c.v.add(d)
}

func (c *Counter) metric() *dto.Metric {
	return &dto.Metric{Label: c.labels, Counter: &dto.Counter{Value: proto.Float64(c.v.load()), CreatedTimestamp: timestamppb.New(c.created)}}
}

// Gauge is a value that goes up and down.
type Gauge struct {
	v      value
	labels []*dto.LabelPair
}

// Set sets the gauge to f.
func (g *Gauge) Set(f float64) { g.v.set(f) }

func (g *Gauge) metric() *dto.Metric {
	return &dto.Metric{Label: g.labels, Gauge: &dto.Gauge{Value: proto.Float64(g.v.load())}}
}

// Histogram counts observations in buckets.
type Histogram struct {
	mu      sync.Mutex
	bounds  []float64
	counts  []uint64 // per bucket, not cumulative
	count   uint64
	sum     float64
	labels  []*dto.LabelPair
	created time.Time
}

// Observe adds one observation.
func (h *Histogram) Observe(f float64) {
	i, _ := slices.BinarySearch(h.bounds, f) // the first bound >= f: buckets are "le"
	h.mu.Lock()
	defer h.mu.Unlock()
	if i < len(h.counts) {
		h.counts[i]++
	}
	h.count++
	h.sum += f
}

func (h *Histogram) metric() *dto.Metric {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := &dto.Histogram{
		SampleCount:      proto.Uint64(h.count),
		SampleSum:        proto.Float64(h.sum),
		CreatedTimestamp: timestamppb.New(h.created),
		Bucket:           make([]*dto.Bucket, len(h.bounds)),
	}
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		d.Bucket[i] = &dto.Bucket{CumulativeCount: proto.Uint64(cum), UpperBound: proto.Float64(b)}
	}
	return &dto.Metric{Label: h.labels, Histogram: d}
}

// vec holds the children of a labelled metric, by label values.
type vec[T any] struct {
	mu       sync.Mutex
	names    []string
	children map[string]*T
	order    []string
	make     func(labels []*dto.LabelPair) *T
}

func (v *vec[T]) with(values []string) *T {
	if len(values) != len(v.names) {
		panic(fmt.Sprintf("prom: %d label values for %d labels %v", len(values), len(v.names), v.names))
	}
	key := strings.Join(values, "\xff")
	v.mu.Lock()
	defer v.mu.Unlock()
	if c, ok := v.children[key]; ok {
		return c
	}
	labels := make([]*dto.LabelPair, len(values))
	for i, val := range values {
		labels[i] = &dto.LabelPair{Name: proto.String(v.names[i]), Value: proto.String(val)}
	}
	c := v.make(labels)
	v.children[key] = c
	v.order = append(v.order, key)
	return c
}

func (v *vec[T]) each(f func(*T)) {
	v.mu.Lock()
	cs := make([]*T, 0, len(v.order))
	for _, k := range v.order {
		cs = append(cs, v.children[k])
	}
	v.mu.Unlock()
	for _, c := range cs {
		f(c)
	}
}

func (v *vec[T]) reset() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.children = map[string]*T{}
	v.order = nil
}

// CounterVec is a counter per combination of label values.
type CounterVec struct{ v vec[Counter] }

// WithLabelValues returns the counter of values (one per label name, in order).
func (c *CounterVec) WithLabelValues(values ...string) *Counter { return c.v.with(values) }

// GaugeVec is a gauge per combination of label values.
type GaugeVec struct{ v vec[Gauge] }

// WithLabelValues returns the gauge of values (one per label name, in order).
func (g *GaugeVec) WithLabelValues(values ...string) *Gauge { return g.v.with(values) }

// Reset removes every gauge of g.
func (g *GaugeVec) Reset() { g.v.reset() }

// HistogramVec is a histogram per combination of label values.
type HistogramVec struct{ v vec[Histogram] }

// WithLabelValues returns the histogram of values (one per label name, in order).
func (h *HistogramVec) WithLabelValues(values ...string) *Histogram { return h.v.with(values) }

func family(name, help string, t dto.MetricType) *dto.MetricFamily {
	return &dto.MetricFamily{Name: proto.String(name), Help: proto.String(help), Type: t.Enum()}
}

// Counter registers and returns a counter without labels.
func (r *Registry) Counter(name, help string) *Counter {
	return r.CounterVec(name, help).WithLabelValues()
}

// CounterVec registers and returns a counter with the labels names.
func (r *Registry) CounterVec(name, help string, names ...string) *CounterVec {
	checkNames(name, names)
	c := &CounterVec{v: vec[Counter]{names: names, children: map[string]*Counter{}}}
	c.v.make = func(l []*dto.LabelPair) *Counter { return &Counter{labels: l, created: r.now()} }
	r.add(name, func(out []*dto.MetricFamily) []*dto.MetricFamily {
		f := family(name, help, dto.MetricType_COUNTER)
		c.v.each(func(x *Counter) { f.Metric = append(f.Metric, x.metric()) })
		return append(out, f)
	})
	return c
}

// Gauge registers and returns a gauge without labels.
func (r *Registry) Gauge(name, help string) *Gauge {
	return r.GaugeVec(name, help).WithLabelValues()
}

// GaugeVec registers and returns a gauge with the labels names.
func (r *Registry) GaugeVec(name, help string, names ...string) *GaugeVec {
	checkNames(name, names)
	g := &GaugeVec{v: vec[Gauge]{names: names, children: map[string]*Gauge{}}}
	g.v.make = func(l []*dto.LabelPair) *Gauge { return &Gauge{labels: l} }
	r.add(name, func(out []*dto.MetricFamily) []*dto.MetricFamily {
		f := family(name, help, dto.MetricType_GAUGE)
		g.v.each(func(x *Gauge) { f.Metric = append(f.Metric, x.metric()) })
		return append(out, f)
	})
	return g
}

// Histogram registers and returns a histogram without labels, with the
// bucket upper bounds buckets (increasing; +Inf is implied).
func (r *Registry) Histogram(name, help string, buckets []float64) *Histogram {
	return r.HistogramVec(name, help, buckets).WithLabelValues()
}

// HistogramVec registers and returns a histogram with the labels names and
// the bucket upper bounds buckets (increasing; +Inf is implied).
func (r *Registry) HistogramVec(name, help string, buckets []float64, names ...string) *HistogramVec {
	checkNames(name, names)
	if !slices.IsSorted(buckets) || slices.Contains(buckets, math.Inf(1)) {
		panic(fmt.Sprintf("prom: %s: buckets must increase and leave out +Inf", name))
	}
	bounds := slices.Clone(buckets)
	h := &HistogramVec{v: vec[Histogram]{names: names, children: map[string]*Histogram{}}}
	h.v.make = func(l []*dto.LabelPair) *Histogram {
		return &Histogram{bounds: bounds, counts: make([]uint64, len(bounds)), labels: l, created: r.now()}
	}
	r.add(name, func(out []*dto.MetricFamily) []*dto.MetricFamily {
		f := family(name, help, dto.MetricType_HISTOGRAM)
		h.v.each(func(x *Histogram) { f.Metric = append(f.Metric, x.metric()) })
		return append(out, f)
	})
	return h
}

// checkNames panics on a metric or label name Prometheus would refuse
// (the legacy character set, which every cab name keeps to).
func checkNames(name string, labels []string) {
	if !validName(name, true) {
		panic(fmt.Sprintf("prom: invalid metric name %q", name))
	}
	for _, l := range labels {
		if !validName(l, false) || strings.HasPrefix(l, "__") || l == "le" || l == "quantile" {
			panic(fmt.Sprintf("prom: %s: invalid label name %q", name, l))
		}
	}
}

func validName(s string, colon bool) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' || colon && c == ':'
		if !ok {
			return false
		}
	}
	return true
}

// Set gathers constant samples for one exposition (cab metrics
// --format prometheus): families by name, in the order first added.
type Set struct {
	fams  []*dto.MetricFamily
	index map[string]*dto.MetricFamily
}

// Labels pairs label names with values, for [Set]: Labels(names, values).
func Labels(names, values []string) []*dto.LabelPair {
	if len(names) != len(values) {
		panic(fmt.Sprintf("prom: %d label values for %d labels %v", len(values), len(names), names))
	}
	out := make([]*dto.LabelPair, len(names))
	for i := range names {
		out[i] = &dto.LabelPair{Name: proto.String(names[i]), Value: proto.String(values[i])}
	}
	return out
}

func (s *Set) family(name, help string, t dto.MetricType) *dto.MetricFamily {
	if f, ok := s.index[name]; ok {
		if f.GetType() != t || f.GetHelp() != help {
			panic(fmt.Sprintf("prom: %s added with two types or help texts", name))
		}
		return f
	}
	checkNames(name, nil)
	if s.index == nil {
		s.index = map[string]*dto.MetricFamily{}
	}
	f := family(name, help, t)
	s.index[name] = f
	s.fams = append(s.fams, f)
	return f
}

// Declare adds the family name without samples: [Set.Families] leaves it
// out until a sample is added, as a registered metric without samples is.
func (s *Set) Declare(name, help string, t dto.MetricType) { s.family(name, help, t) }

// Gauge adds one gauge sample.
func (s *Set) Gauge(name, help string, v float64, labels []*dto.LabelPair) {
	f := s.family(name, help, dto.MetricType_GAUGE)
	f.Metric = append(f.Metric, &dto.Metric{Label: labels, Gauge: &dto.Gauge{Value: proto.Float64(v)}})
}

// Summary adds one summary sample: its count, sum and quantiles (quantile
// → value).
func (s *Set) Summary(name, help string, count uint64, sum float64, quantiles map[float64]float64, labels []*dto.LabelPair) {
	f := s.family(name, help, dto.MetricType_SUMMARY)
	d := &dto.Summary{SampleCount: proto.Uint64(count), SampleSum: proto.Float64(sum)}
	for q, v := range quantiles {
		d.Quantile = append(d.Quantile, &dto.Quantile{Quantile: proto.Float64(q), Value: proto.Float64(v)})
	}
	f.Metric = append(f.Metric, &dto.Metric{Label: labels, Summary: d})
}

// Families returns the families of s (unnormalised: [WriteText] and
// [Normalize] sort them).
func (s *Set) Families() []*dto.MetricFamily { return s.fams }
