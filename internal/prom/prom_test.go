package prom_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/prom"
)

// The tests compare with client_golang, which cab used before this package
// and still uses in tests only: the same operations must give the same
// exposition.

var buckets = []float64{0.1, 0.5, 1, 5}

// ops applies the same updates to either implementation.
type ops struct {
	counter   func(v ...string) func(float64)
	gauge     func(v ...string) func(float64)
	histogram func(v ...string) func(float64)
	plainC    func()
	plainH    func(float64)
}

func apply(o ops) {
	o.counter("b", "x")(1)
	o.counter("a", "y")(2)
	o.counter("a", "x")(0)
	o.gauge("zeta")(3)
	o.gauge("alpha")(-1.5)
	o.gauge(`quote"and\back`)(7)
	o.histogram("ok")(0.05)
	o.histogram("ok")(0.5)
	o.histogram("ok")(0.7)
	o.histogram("failed")(9)
	o.plainC()
	o.plainC()
	o.plainH(1)
}

func ours() *prom.Registry {
	r := prom.NewRegistry()
	c := r.CounterVec("t_counter_total", "A counter.", "kind", "le_not")
	g := r.GaugeVec("t_gauge", "A gauge.", "state")
	h := r.HistogramVec("t_seconds", "A histogram.", buckets, "outcome")
	pc := r.Counter("t_plain_total", "A plain counter.")
	ph := r.Histogram("t_plain_seconds", "A plain histogram.", buckets)
	r.GaugeVec("t_empty", "Never set: left out.", "x")
	apply(ops{
		counter:   func(v ...string) func(float64) { return c.WithLabelValues(v...).Add },
		gauge:     func(v ...string) func(float64) { return g.WithLabelValues(v...).Set },
		histogram: func(v ...string) func(float64) { return h.WithLabelValues(v...).Observe },
		plainC:    pc.Inc,
		plainH:    ph.Observe,
	})
	return r
}

func theirs() *prometheus.Registry {
	r := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "t_counter_total", Help: "A counter."}, []string{"kind", "le_not"})
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "t_gauge", Help: "A gauge."}, []string{"state"})
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "t_seconds", Help: "A histogram.", Buckets: buckets}, []string{"outcome"})
	pc := prometheus.NewCounter(prometheus.CounterOpts{Name: "t_plain_total", Help: "A plain counter."})
	ph := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "t_plain_seconds", Help: "A plain histogram.", Buckets: buckets})
	e := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "t_empty", Help: "Never set: left out."}, []string{"x"})
	r.MustRegister(c, g, h, pc, ph, e)
	apply(ops{
		counter:   func(v ...string) func(float64) { return c.WithLabelValues(v...).Add },
		gauge:     func(v ...string) func(float64) { return g.WithLabelValues(v...).Set },
		histogram: func(v ...string) func(float64) { return h.WithLabelValues(v...).Observe },
		plainC:    pc.Inc,
		plainH:    ph.Observe,
	})
	return r
}

func text(t *testing.T, fams []*dto.MetricFamily) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, prom.WriteText(&b, fams))
	return b.String()
}

func TestExpositionMatchesClientGolang(t *testing.T) {
	want, err := theirs().Gather()
	require.NoError(t, err)
	fams, err := ours().Gather()
	require.NoError(t, err)
	got := text(t, fams)
	assert.Equal(t, text(t, want), got, "the same updates give the same text exposition")
	assert.Contains(t, got, `t_seconds_bucket{outcome="ok",le="0.5"} 2`, "buckets are cumulative and inclusive")
	assert.NotContains(t, got, "t_empty", "a family without samples is left out")
}

func TestSetMatchesConstMetrics(t *testing.T) {
	names := []string{"service", "env", "period"}
	var s prom.Set
	s.Declare("c_unused", "Declared only.", dto.MetricType_GAUGE)
	s.Gauge("c_value", "A value.", 2, prom.Labels(names, []string{"b", "prod", "2026-01"}))
	s.Gauge("c_value", "A value.", 1, prom.Labels(names, []string{"a", "prod", "2026-02"}))
	s.Gauge("c_value", "A value.", 3, prom.Labels(names, []string{"a", "dev", "2026-02"}))
	s.Summary("c_seconds", "A summary.", 4, 10, map[float64]float64{0.9: 3, 0.5: 2}, prom.Labels(names, []string{"a", "prod", "2026-02"}))
	s.Summary("c_seconds", "A summary.", 0, 0, map[float64]float64{}, prom.Labels(names, []string{"", "", "2026-02"}))

	r := prometheus.NewRegistry()
	v := prometheus.NewDesc("c_value", "A value.", names, nil)
	sd := prometheus.NewDesc("c_seconds", "A summary.", names, nil)
	u := prometheus.NewDesc("c_unused", "Declared only.", names, nil)
	require.NoError(t, r.Register(constCollector{descs: []*prometheus.Desc{v, sd, u}, metrics: []prometheus.Metric{
		prometheus.MustNewConstMetric(v, prometheus.GaugeValue, 2, "b", "prod", "2026-01"),
		prometheus.MustNewConstMetric(v, prometheus.GaugeValue, 1, "a", "prod", "2026-02"),
		prometheus.MustNewConstMetric(v, prometheus.GaugeValue, 3, "a", "dev", "2026-02"),
		prometheus.MustNewConstSummary(sd, 4, 10, map[float64]float64{0.9: 3, 0.5: 2}, "a", "prod", "2026-02"),
		prometheus.MustNewConstSummary(sd, 0, 0, map[float64]float64{}, "", "", "2026-02"),
	}}))
	want, err := r.Gather()
	require.NoError(t, err)
	assert.Equal(t, text(t, want), text(t, s.Families()))
}

type constCollector struct {
	descs   []*prometheus.Desc
	metrics []prometheus.Metric
}

func (c constCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c constCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.metrics {
		ch <- m
	}
}

// shape is what a dashboard depends on: the family's type and help, and
// its label names.
func shape(fams []*dto.MetricFamily) map[string]string {
	out := map[string]string{}
	for _, f := range fams {
		var labels []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		out[f.GetName()] = f.GetType().String() + " " + strings.Join(labels, ",") + " " + f.GetHelp()
	}
	return out
}

func TestRuntimeSeriesMatchClientGolang(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the process series read /proc")
	}
	r := prom.NewRegistry()
	r.AddRuntime()
	got, err := r.Gather()
	require.NoError(t, err)
	cr := prometheus.NewRegistry()
	cr.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	want, err := cr.Gather()
	require.NoError(t, err)
	assert.Equal(t, shape(want), shape(got), "the same go_* and process_* series, types, labels and help")

	values := func(fams []*dto.MetricFamily) map[string]float64 {
		out := map[string]float64{}
		for _, f := range fams {
			m := f.GetMetric()[0]
			out[f.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
		return out
	}
	g, w := values(got), values(want)
	for _, exact := range []string{"process_max_fds", "process_virtual_memory_max_bytes", "process_start_time_seconds", "go_sched_gomaxprocs_threads", "go_gc_gogc_percent", "go_gc_gomemlimit_bytes", "go_info"} {
		assert.InDelta(t, w[exact], g[exact], 0.011, "%s", exact) // start time: 1/USER_HZ
	}
	for _, positive := range []string{"go_goroutines", "go_threads", "go_memstats_sys_bytes", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_virtual_memory_bytes", "process_open_fds"} {
		assert.Positive(t, g[positive], "%s", positive)
	}
	assert.InDelta(t, w["process_open_fds"], g["process_open_fds"], 3)
}

func TestHandler(t *testing.T) {
	r := ours()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	get := func(t *testing.T, header map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		// No transparent decompression: the test reads Content-Encoding.
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, b
	}
	tests := []struct {
		name, accept, encoding string
		wantType, wantEncoding string
	}{
		{"plain", "", "", "text/plain; version=0.0.4; charset=utf-8; escaping=underscores", ""},
		{"gzip", "", "gzip, deflate", "text/plain; version=0.0.4; charset=utf-8; escaping=underscores", "gzip"},
		{"gzip refused", "", "gzip;q=0", "text/plain; version=0.0.4; charset=utf-8; escaping=underscores", ""},
		{"protobuf", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", "", "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; escaping=underscores", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, map[string]string{"Accept": tt.accept, "Accept-Encoding": tt.encoding})
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, tt.wantType, resp.Header.Get("Content-Type"))
			assert.Equal(t, tt.wantEncoding, resp.Header.Get("Content-Encoding"))
			if tt.wantEncoding == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				require.NoError(t, err)
				body, err = io.ReadAll(zr)
				require.NoError(t, err)
			}
			dec := expfmt.NewDecoder(bytes.NewReader(body), expfmt.ResponseFormat(resp.Header))
			names := map[string]bool{}
			for {
				var f dto.MetricFamily
				err := dec.Decode(&f)
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				names[f.GetName()] = true
			}
			assert.True(t, names["t_counter_total"] && names["t_seconds"], "got %v", names)
			assert.True(t, names["promhttp_metric_handler_errors_total"], "the handler's own error counter, as promhttp registers it")
		})
	}
}

func TestHandlerTextParses(t *testing.T) {
	r := prom.NewRegistry()
	r.AddRuntime()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	require.NoError(t, err)
	assert.Contains(t, fams, "go_goroutines")
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		assert.Contains(t, fams, "process_cpu_seconds_total")
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	r := prom.NewRegistry()
	r.Counter("x_total", "x")
	assert.Panics(t, func() { r.Gauge("x_total", "again") })
	assert.Panics(t, func() { r.Gauge("bad-name", "x") })
	assert.Panics(t, func() { r.GaugeVec("ok", "x", "le") })
	assert.Panics(t, func() { r.CounterVec("c_total", "x", "a").WithLabelValues() }, "label values must match the names")
	assert.Panics(t, func() { r.Counter("d_total", "x").Add(-1) })
}
